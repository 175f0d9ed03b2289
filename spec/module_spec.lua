-- The module itself: loading and reloading, identity and equality of
-- gochan objects, and objects collected without a crash.

local gochan = require "gochan"
local helper = require "spec.helper"

local function reload ()
  package.loaded["gochan"] = nil
  package.loaded["gochan.core"] = nil
  return require "gochan"
end

describe("require 'gochan'", function()
  it("returns the API of issue 2 as functions", function()
    for _, name in ipairs { "chan", "select", "waitgroup", "mutex", "atomic",
                            "defer", "sleep", "after", "ticker", "now" } do
      assert.equal("function", type(gochan[name]), name)
    end
  end)

  it("returns the same table every time", function()
    assert.equal(gochan, require "gochan")
  end)

  it("can be loaded again in the same state (as busted does)", function()
    local old = gochan.chan(1)
    local g2 = reload()
    assert.equal("function", type(g2.chan))
    local new = g2.chan(1)
    -- objects from both loads keep working, with either module's functions
    assert.is_true(old:try_send("o"))
    assert.is_true(new:try_send("n"))
    assert.same({ 2, "o", true }, { g2.select { { "recv", nil }, { "recv", old } } })
    assert.same({ 1, "n", true }, { gochan.select { { "recv", new } } })
    assert.equal(getmetatable(old), getmetatable(new))
    local c2 = reload()
    assert.equal("function", type(c2.now))
  end)

  it("keeps channel identity across a reload", function()
    local ch = gochan.chan()
    local g2 = reload()
    local carrier = g2.chan(1)
    carrier:send(ch)
    assert.is_true(rawequal(ch, (carrier:recv(0.5))))
  end)
end)

describe("equality of gochan objects", function()
  it("a channel equals itself", function()
    local ch = gochan.chan()
    assert.is_true(ch == ch)
    assert.is_true(rawequal(ch, ch))
  end)

  it("two channels differ", function()
    assert.is_false(gochan.chan() == gochan.chan())
    assert.is_false(gochan.chan(1) == gochan.chan(1))
  end)

  it("a channel is not equal to other types", function()
    local ch = gochan.chan()
    assert.is_false(ch == gochan.mutex())
    assert.is_false(ch == "gochan.chan")
    assert.is_false(ch == nil)
  end)

  it("a channel is usable as a table key", function()
    local a, b = gochan.chan(), gochan.chan()
    local t = { [a] = "a", [b] = "b" }
    assert.equal("a", t[a])
    assert.equal("b", t[b])
  end)
end)

describe("identity through channels", function()
  it("a channel sent through another channel comes back as the same value", function()
    local carrier, ch = gochan.chan(2), gochan.chan(3)
    carrier:send(ch)
    carrier:send(ch)
    local a = carrier:recv(0.5)
    local b = carrier:recv(0.5)
    assert.is_true(rawequal(ch, a))
    assert.is_true(rawequal(a, b))
  end)

  it("a channel sent through itself comes back as itself", function()
    local ch = gochan.chan(1)
    ch:send(ch)
    assert.is_true(rawequal(ch, (ch:recv(0.5))))
  end)

  it("the channel that comes back is the same channel, with its contents", function()
    local carrier, ch = gochan.chan(1), gochan.chan(2)
    ch:send("inside")
    carrier:send(ch)
    local got = carrier:recv(0.5)
    assert.equal(1, #got)
    assert.equal("inside", (got:recv(0.5)))
    assert.equal(0, #ch)
  end)

  it("waitgroups, mutexes, atomics and tickers come back as the same values", function()
    local carrier = gochan.chan(4)
    local tk = gochan.ticker(10)
    local objs = { gochan.waitgroup(), gochan.mutex(), gochan.atomic(3), tk }
    for _, o in ipairs(objs) do carrier:send(o) end
    for _, o in ipairs(objs) do
      assert.is_true(rawequal(o, (carrier:recv(0.5))))
    end
    tk:stop()
  end)

  it("a channel whose only Lua reference was collected comes back working", function()
    local carrier = gochan.chan(1)
    do
      local inner = gochan.chan(1)
      inner:send("kept")
      carrier:send(inner)
    end
    collectgarbage()
    collectgarbage()
    local inner = carrier:recv(0.5)
    assert.equal("kept", (inner:recv(0.5)))
    assert.is_true(inner:try_send("again"))
  end)
end)

describe("collection of gochan objects", function()
  -- The live core objects now, after full collections (a testing build
  -- counts them: gochan._live; elsewhere nil and the checks are skipped).
  local function live_now ()
    if not gochan._live then return nil end
    collectgarbage()
    collectgarbage()
    return (gochan._live())
  end

  -- Asserts that the live count comes back to 'before' (polled: a timer
  -- or a worker may drop its reference a moment after the collection).
  local function assert_freed (before)
    if not before then return end
    local t0, now = gochan.now(), live_now()
    while now ~= before and gochan.now() - t0 < 5 do
      gochan.sleep(0.005)
      now = live_now()
    end
    assert.are.equal(before, now)
  end

  it("collects many channels, full, closed or not, without a crash", function()
    local before = live_now()
    for i = 1, 2000 do
      local ch = gochan.chan(i % 4)
      if i % 4 > 0 then ch:send(("x"):rep(i % 40)) end
      if i % 3 == 0 then ch:close() end
    end
    assert_freed(before)
    assert.equal(1, gochan.chan(1):cap())
  end)

  -- Channels that hold each other in their buffers are a cycle of
  -- reference counts in C, which nothing collects (a documented limit):
  -- they are freed once the cycle is broken by taking a value out.
  it("frees channels that held each other once the cycle is broken", function()
    local before = live_now()
    local firsts = {}
    for i = 1, 500 do
      local a, b = gochan.chan(1), gochan.chan(1)
      a:send(b)
      b:send(a)
      firsts[i] = a
    end
    for _, a in ipairs(firsts) do
      local b = a:recv(0.5)
      assert.is_true(rawequal(a, (b:recv(0.5))))
    end
    firsts = nil                              -- luacheck: ignore 311
    assert_freed(before)
    assert.is_true(gochan.chan(1):try_send(1))
  end)

  it("collects a locked mutex, a waitgroup above zero and atomics", function()
    local before = live_now()
    for i = 1, 500 do
      local mu = gochan.mutex()
      mu:lock()
      local wg = gochan.waitgroup()
      wg:add(i)
      gochan.atomic(i):add(1)
    end
    assert_freed(before)
    assert.is_true(gochan.mutex():try_lock())
  end)

  it("collects pending timers and running tickers", function()
    local before = live_now()
    for _ = 1, 50 do
      gochan.after(0.01)
      gochan.ticker(0.005)
    end
    collectgarbage()
    collectgarbage()
    gochan.sleep(0.05)   -- the timers fire (or not) after their boxes are gone
    assert_freed(before)
    local v, ok = gochan.after(0.01):recv(0.5)
    assert.is_true(ok)
    assert.equal("number", type(v))
  end)

  it("collects a ticker's channel kept after the ticker is gone", function()
    local before = live_now()
    local c
    do
      local tk = gochan.ticker(0.01)
      c = tk.c
    end
    collectgarbage()
    collectgarbage()
    gochan.sleep(0.05)
    -- the ticker may keep ticking or stop; either way the channel works
    c:try_recv()
    assert.equal(1, c:cap())
    c = nil                                   -- luacheck: ignore 311
    assert_freed(before)
  end)
end)

describe("method tables", function()
  -- The names pairs() gives for a value's __index table, sorted.
  local function methodnames(v)
    local names = {}
    for k in pairs(getmetatable(v).__index) do names[#names + 1] = k end
    table.sort(names)
    return table.concat(names, " ")
  end

  local CHAN = "cap close dropped len range recv send try_recv try_send"

  for _, where in ipairs(helper.PLACES) do
    it("list every method through pairs, in the " .. where, function()
      local r = helper.within(where, function(names)
        local g = require "gochan"
        local c = g.chan(1)
        c:send(1)                     -- one method used before the listing
        return names(c), names(g.atomic(0)), names(g.waitgroup())
      end, methodnames)
      assert.same({ n = 3, CHAN, "add cas get set", "add done go wait" }, r)
    end)

    it("find each method on its first use, in the " .. where, function()
      local r = helper.within(where, function()
        local g = require "gochan"
        local c = g.chan(2)
        local ok = c:try_send("x") and c:send("y", 1)
        return ok, c:len(), c:cap(), #c, c:try_recv(), c:recv(1)
      end)
      assert.same({ n = 7, true, 2, 2, 2, "x", "y", true }, r)
    end)

    it("give nil for a name that is no method, in the " .. where, function()
      local r = helper.within(where, function()
        local c = require("gochan").chan()
        return c.nosuch, c[1], c["send\0x"], c.nosuch, rawget(getmetatable(c).__index, "nosuch")
      end)
      assert.same({ n = 5 }, r)
    end)
  end

  it("are made again by a reload, and keep working", function()
    local c = gochan.chan(1)
    assert.is_true(c:try_send(1))
    local g2 = reload()
    assert.is_true(g2.chan(1):try_send(2))
    assert.same({ 1, true }, { c:recv(1) })
    assert.equal(CHAN, methodnames(c))
  end)
end)
