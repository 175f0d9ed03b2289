-- Timers you can stop (API.md "Timers"): gochan.timer with t.c, t:stop,
-- t:reset and gochan's no-stale-value rule, gochan.after_func, tk:reset,
-- and a timer stopped when it is collected. Every rule from the main
-- state and from a task; the deadlock rules run a fixture in a subprocess
-- under `timeout` (spec/fixtures/timers.lua).

local gochan = require "gochan"
local helper = require "spec.helper"

local LUA = os.getenv("GOCHAN_SPEC_LUA") or "lua5.4"
local FIXTURES = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "fixtures/"

local function q (s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- The fixture's report lines for 'case', keyed by label: { ok, ..., secs }.
local function fixture (case)
  local p = assert(io.popen(("LUA_PATH=%s LUA_CPATH=%s timeout 20 %s %s %s 2>&1"):format(
    q(package.path), q(package.cpath), LUA, q(FIXTURES .. "timers.lua"), case)))
  local out = p:read("a")
  p:close()
  local r = {}
  for line in out:gmatch("[^\n]+") do
    local fields = {}
    for f in (line .. " | "):gmatch("(.-) | ") do fields[#fields + 1] = f end
    if #fields >= 2 then r[table.remove(fields, 1)] = fields end
  end
  return r, out
end

local DEADLOCK = "all tasks are asleep %- deadlock!"

-- The specs that run the fixture: pending under ThreadSanitizer, where a
-- process that forks while its threads run crashes the child (as
-- ./dev tsan leaves runtime_spec out); run the fixture under TSan directly.
local TSAN = (os.getenv("LD_PRELOAD") or ""):find("tsan") ~= nil
local it_forks = TSAN and pending or it

describe("gochan.timer", function()
  for _, where in ipairs(helper.PLACES) do
    it("sends gochan.now() once on t.c (capacity 1) after the time, from the " .. where, function()
      local r = helper.within(where, function()
        local g = require "gochan"
        local t0 = g.now()
        local t = g.timer(0.05)
        local v, ok = t.c:recv(5)
        local again = t.c:recv(0.05)
        return t.c:cap(), v, ok, v - t0, again, math.type(v)
      end)
      assert.equal(1, r[1])
      assert.is_true(r[3])
      assert.is_true(r[4] >= 0.04, tostring(r[4]))
      assert.is_nil(r[5])
      assert.equal("float", r[6])
    end)
  end

  it("fires as soon as possible for 0 and negative durations", function()
    for _, s in ipairs { 0, -1 } do
      local dt = helper.elapsed(function() return gochan.timer(s).c:recv(5) end)
      helper.assert_prompt(dt)
    end
  end)

  it("rejects a duration that is not a number", function()
    assert.has_error(function() gochan.timer() end,
      "bad argument #1 to 'timer' (number expected, got no value)")
    assert.has_error(function() gochan.timer("x") end,
      "bad argument #1 to 'timer' (number expected, got string)")
    assert.has_error(function() gochan.timer(0 / 0) end,
      "bad argument #1 to 'timer' (number expected, got nan)")
  end)

  it("prints as gochan.timer", function()
    local t = gochan.timer(10)
    assert.matches("^gochan%.timer 0x", tostring(t))
    t:stop()
  end)

  it("crosses by reference: a task stops the same timer, t.c comes back the same", function()
    local t = gochan.timer(10)
    local task = gochan.go(function(tm) return tm:stop(), tm.c, tm end, t)
    local ok, stopped, c, back = task:join(5)
    assert.is_true(ok)
    assert.is_true(stopped)
    assert.is_true(rawequal(t.c, c))
    assert.is_true(rawequal(t, back))
    assert.is_false(t:stop())               -- already stopped over there
    assert.same({ nil, nil }, { t.c:recv(0.1) })
  end)
end)

describe("t:stop()", function()
  for _, where in ipairs(helper.PLACES) do
    it("returns true for a pending timer, which then never sends, from the " .. where, function()
      local r = helper.within(where, function()
        local t = require("gochan").timer(0.02)
        return t:stop(), (t.c:recv(0.1)), (t:stop())
      end)
      assert.same({ n = 3, true, nil, false }, r)
    end)

    it("discards a value waiting in t.c and returns true, from the " .. where, function()
      local r = helper.within(where, function()
        local g = require "gochan"
        local t = g.timer(0)
        local deadline = g.now() + 5
        while #t.c == 0 and g.now() < deadline do g.sleep(0.001) end
        local len = #t.c
        return len, t:stop(), #t.c, (t.c:recv(0.05)), (t:stop())
      end)
      assert.same({ n = 5, 1, true, 0, nil, false }, r)
    end)

    it("returns false once the value was received, from the " .. where, function()
      local r = helper.within(where, function()
        local t = require("gochan").timer(0)
        local _, ok = t.c:recv(5)
        return ok, t:stop()
      end)
      assert.same({ n = 2, true, false }, r)
    end)

    it("racing the fire: never a stale value, and true exactly when it was not received, from the " .. where, function()
      local r = helper.within(where, function()
        local g = require "gochan"
        local t = g.timer(0)
        local bad, got, stopped = 0, 0, 0
        for i = 1, 400 do
          t:reset((i % 4) * 0.00002)
          for _ = 1, (i % 13) * 50 do end
          local _, received = t.c:try_recv()
          local s = t:stop()
          if received and s or not received and not s then bad = bad + 1 end
          if #t.c ~= 0 then bad = bad + 1 end
          got = got + (received and 1 or 0)
          stopped = stopped + (s and 1 or 0)
        end
        g.sleep(0.01)
        return bad, got + stopped, #t.c, (t.c:try_recv())
      end)
      assert.same({ n = 4, 0, 400, 0, nil }, r)
    end)
  end

  it_forks("a stopped timer is not pending: receiving from t.c is a deadlock", function()
    local r, out = fixture("stopped")
    assert.is_truthy(r.recv, out)
    assert.equal("false", r.recv[1])
    assert.matches(DEADLOCK, r.recv[2])
    assert.is_true(tonumber(r.recv[3]) < 10, out)
    assert.equal("true", r.stop[1])
  end)
end)

describe("t:reset()", function()
  for _, where in ipairs(helper.PLACES) do
    it("re-arms a pending timer and returns true; only the new arming sends, from the " .. where, function()
      local r = helper.within(where, function()
        local g = require "gochan"
        local t = g.timer(10)
        local t0 = g.now()
        local active = t:reset(0.05)
        local v = t.c:recv(5)
        return active, v - t0 >= 0.04, (t.c:recv(0.05))
      end)
      assert.same({ n = 3, true, true, nil }, r)
    end)

    it("discards a fired value not received yet (true), then sends once more, from the " .. where, function()
      local r = helper.within(where, function()
        local g = require "gochan"
        local t = g.timer(0)
        local deadline = g.now() + 5
        while #t.c == 0 and g.now() < deadline do g.sleep(0.001) end
        local before = #t.c
        local t0 = g.now()
        local active = t:reset(0.05)
        local len = #t.c
        local v = t.c:recv(5)
        return before, active, len, v >= t0 + 0.04
      end)
      assert.same({ n = 4, 1, true, 0, true }, r)
    end)

    it("returns false after the value was received, and arms again, from the " .. where, function()
      local r = helper.within(where, function()
        local t = require("gochan").timer(0)
        t.c:recv(5)
        local active = t:reset(0)
        local _, ok = t.c:recv(5)
        return active, ok
      end)
      assert.same({ n = 2, false, true }, r)
    end)

    it("racing the fire: every value received after reset is from the new arming, from the " .. where, function()
      local r = helper.within(where, function()
        local g = require "gochan"
        local t = g.timer(0)
        local stale = 0
        for i = 1, 300 do
          for _ = 1, (i % 11) * 50 do end
          local t0 = g.now()
          t:reset(0)
          local v = t.c:recv(5)
          if not v or v < t0 then stale = stale + 1 end
        end
        t:stop()
        return stale
      end)
      assert.same({ n = 1, 0 }, r)
    end)
  end

  it("rejects a duration that is not a number", function()
    local t = gochan.timer(10)
    assert.has_error(function() t:reset("x") end,
      "bad argument #1 to 'reset' (number expected, got string)")
    assert.is_true(t:stop())                -- left as it was: still pending
  end)
end)

describe("gochan.after_func", function()
  for _, where in ipairs(helper.PLACES) do
    it("runs fn(...) as a new task when it fires, from the " .. where, function()
      local r = helper.within(where, function()
        local g = require "gochan"
        local ch = g.chan(1)
        local t = g.after_func(0.02, function(c, a, b) c:send(a + b) end, ch, 1, 2)
        return ch:recv(5), t.c
      end)
      assert.same({ n = 2, 3, nil }, r)
    end)

    it("never runs fn once stopped before it fired (stop: true, then false), from the " .. where, function()
      local r = helper.within(where, function()
        local g = require "gochan"
        local ch = g.chan(1)
        local t = g.after_func(0.02, function(c) c:send("ran") end, ch)
        local s1 = t:stop()
        local v = ch:recv(0.15)
        return s1, v, (t:stop())
      end)
      assert.same({ n = 3, true, nil, false }, r)
    end)

    it("runs fn again after a reset once it ran (reset: false), from the " .. where, function()
      local r = helper.within(where, function()
        local g = require "gochan"
        local ch = g.chan(2)
        local t = g.after_func(0, function(c) c:send("ran") end, ch)
        local a = ch:recv(5)
        local stop = t:stop()
        local active = t:reset(0)
        return a, stop, active, (ch:recv(5))
      end)
      assert.same({ n = 4, "ran", false, false, "ran" }, r)
    end)
  end

  it("runs fn even when t is dropped (the runtime holds a pending one)", function()
    local ch = gochan.chan(1)
    gochan.after_func(0.05, function(c) c:send("ran") end, ch)
    collectgarbage()
    collectgarbage()
    assert.equal("ran", ch:recv(5))
  end)

  it("rejects what gochan.go rejects, at the call", function()
    assert.has_error(function() gochan.after_func(1) end,
      "bad argument #2 to 'after_func' (function expected, got no value)")
    assert.has_error(function() gochan.after_func("x", print) end,
      "bad argument #1 to 'after_func' (number expected, got string)")
    assert.has_error(function() gochan.after_func(1, print, coroutine.create(print)) end,
      "cannot transfer a thread (at argument #2)")
  end)

  it_forks("a pending after_func is not a deadlock; a stopped one is", function()
    local r, out = fixture("pending")
    assert.is_truthy(r.timer and r.after_func, out)
    assert.equal("true", r.timer[1])
    assert.equal("true", r.after_func[1])
    assert.equal("ran", r.after_func[2])
    r, out = fixture("after_func-stopped")
    assert.is_truthy(r.recv, out)
    assert.equal("false", r.recv[1])
    assert.matches(DEADLOCK, r.recv[2])
    assert.equal("true", r.stop[1])
  end)
end)

describe("collected timers", function()
  it_forks("an abandoned after() channel's timer goes when the channel is collected", function()
    local r, out = fixture("collected-after")
    assert.is_truthy(r.recv, out)
    assert.equal("false", r.recv[1])
    assert.matches(DEADLOCK, r.recv[2])
    assert.is_true(tonumber(r.recv[3]) < 10, out)   -- not after the 30 s
  end)

  it("a timer kept only through t.c still fires", function()
    local c = gochan.timer(0.05).c
    collectgarbage()
    collectgarbage()
    local v, ok = c:recv(5)
    assert.equal("float", math.type(v))
    assert.is_true(ok)
  end)

  it("frees a timer once neither t nor t.c is reachable", function()
    if not gochan._live then return end     -- a testing build only
    collectgarbage()
    collectgarbage()
    local _, before = gochan._live()
    for _ = 1, 200 do
      local t = gochan.timer(30)
      local _ = t.c
    end
    local deadline = gochan.now() + 5
    local after
    repeat
      collectgarbage()
      collectgarbage()
      after = select(2, gochan._live())
    until (after.timer <= before.timer and after.chan <= before.chan)
          or gochan.now() > deadline
    assert.is_true(after.timer <= before.timer, tostring(after.timer))
    assert.is_true(after.chan <= before.chan, tostring(after.chan))
  end)
end)

describe("tk:reset()", function()
  for _, where in ipairs(helper.PLACES) do
    it("drops a stale tick and ticks one new interval later, from the " .. where, function()
      local r = helper.within(where, function()
        local g = require "gochan"
        local tk = g.ticker(0.005)
        local deadline = g.now() + 5
        while #tk.c == 0 and g.now() < deadline do g.sleep(0.001) end
        local t0 = g.now()
        tk:reset(0.1)
        local len = #tk.c
        local v = tk.c:recv(5)
        tk:stop()
        return len, v - t0
      end)
      assert.equal(0, r[1])
      assert.is_true(r[2] >= 0.08, tostring(r[2]))
    end)

    it("restarts a stopped ticker, from the " .. where, function()
      local r = helper.within(where, function()
        local g = require "gochan"
        local tk = g.ticker(10)
        tk:stop()
        tk:reset(0.01)
        local a = tk.c:recv(5)
        local b = tk.c:recv(5)
        tk:stop()
        return b > a
      end)
      assert.same({ n = 1, true }, r)
    end)
  end

  it("rejects a duration that is not positive", function()
    local tk = gochan.ticker(10)
    assert.has_error(function() tk:reset(0) end,
      "bad argument #1 to 'reset' (positive number expected, got number)")
    tk:stop()
  end)
end)
