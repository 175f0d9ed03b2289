local gochan = require "gochan"
local cjson = require "cjson"
local helper = require "spec.helper"

-- The trace file at 'path', decoded (raises if it is not JSON). Decoding
-- is the spec's own work, not gochan's: under ./dev gc's collector stress
-- it runs with the collector stopped (it took 90 s of CI there).
local function load(path)
  local f = assert(io.open(path, "r"))
  local s = f:read("a")
  f:close()
  local stress = os.getenv("GOCHAN_GC_STRESS") ~= nil
  if stress then collectgarbage("stop") end
  local ok, t = pcall(cjson.decode, s)
  if stress then collectgarbage("restart") end
  if not ok then error(t, 2) end
  return t
end

-- A decoded trace, indexed: the names of the tracks by pid and tid, the
-- spans (ph X) of each task by name, the flows by id, the end marks.
local function index(trace)
  local ix = { names = { {}, {} }, spans = {}, flows = {}, ends = {},
               n = #trace.traceEvents }
  for _, e in ipairs(trace.traceEvents) do
    local tid = e.tid and math.tointeger(e.tid)
    if e.ph == "M" and e.name == "thread_name" then
      ix.names[e.pid][tid] = e.args.name
    elseif e.ph == "X" and e.cat == "task" then
      local by = ix.spans[tid] or {}
      ix.spans[tid] = by
      by[e.name] = by[e.name] or {}
      table.insert(by[e.name], e)
    elseif e.ph == "s" or e.ph == "f" then
      local id = math.tointeger(e.id)
      ix.flows[id] = ix.flows[id] or {}
      ix.flows[id][e.ph] = e
    elseif e.ph == "i" and e.name == "end" then
      ix.ends[tid] = e.args.status
    end
  end
  return ix
end

-- The id of a task handle.
local function idof(t)
  return math.tointeger(tonumber(tostring(t):match("#(%d+)")))
end

-- The flows from task (or main: 0) 'from' to task 'to'.
local function flows(ix, from, to)
  local n = 0
  for _, pair in pairs(ix.flows) do
    if pair.s and pair.f and math.tointeger(pair.s.tid) == from
       and math.tointeger(pair.f.tid) == to then
      n = n + 1
    end
  end
  return n
end

local path

before_each(function()
  path = os.tmpname()
end)

after_each(function()
  pcall(gochan.trace_stop)        -- a failed spec leaves no trace running
  os.remove(path)
end)

describe("gochan.trace_start()", function()
  it("records tasks handing values through a channel, and their tracks", function()
    gochan.trace_start(path)
    local ch = gochan.chan()
    local consumer = gochan.spawn({ name = 'the "consumer"\t' }, function(c)
      local sum = 0
      for v in c:range() do sum = sum + v end
      return sum
    end, ch)
    local producer = gochan.go(function(c)
      for i = 1, 5 do c:send(i) end
      c:close()
    end, ch)
    assert.same({ true, 15 }, { consumer:join(10) })
    assert.same({ true }, { producer:join(10) })
    gochan.trace_stop()
    local ix = index(load(path))
    local c, p = idof(consumer), idof(producer)
    assert.equal("task #" .. c .. ' the "consumer"\t', ix.names[2][c])
    assert.equal("task #" .. p, ix.names[2][p])
    for i = 1, gochan.config().workers do
      assert.equal("worker " .. i, ix.names[1][i])
    end
    for _, id in ipairs({ c, p }) do
      assert.is_true(#ix.spans[id].running >= 1)
      assert.is_true(#ix.spans[id].runnable >= 1)
      assert.equal("done", ix.ends[id])
      for _, s in ipairs(ix.spans[id].running) do
        assert.is_true(s.args.worker >= 1)
        assert.is_true(s.dur >= 0 and s.ts >= 0)
      end
    end
    -- somebody blocked on the unbuffered channel, and woke by a hand-off
    local blocked = 0
    for _, id in ipairs({ c, p }) do
      for _, s in ipairs(ix.spans[id].blocked or {}) do
        blocked = blocked + 1
        assert.is_truthy(s.args.waiting:match("on gochan%.chan$"))
      end
    end
    assert.is_true(blocked >= 1)
    assert.is_true(flows(ix, p, c) + flows(ix, c, p) >= 1)
    for _, pair in pairs(ix.flows) do     -- every arrow has both ends
      assert.is_truthy(pair.s and pair.f)
      assert.is_true(pair.f.ts >= pair.s.ts)
    end
  end)

  it("writes a name as valid UTF-8 JSON, whatever its bytes", function()
    gochan.trace_start(path)
    local t = gochan.spawn({ name = "caf\u{e9} \255" }, function() return 1 end)
    assert.same({ true, 1 }, { t:join(10) })
    gochan.trace_stop()
    local ix = index(load(path))
    assert.equal("task #" .. idof(t) .. " caf\u{e9} \u{fffd}", ix.names[2][idof(t)])
  end)

  it("draws an arrow from main to the task its send woke", function()
    gochan.trace_start(path)
    local ch = gochan.chan()
    local t = gochan.go(function(c) return (c:recv(10)) end, ch)
    helper.wait_blocked(t, "recv on gochan.chan")
    assert.is_true(ch:send("x", 10))
    assert.same({ true, "x" }, { t:join(10) })
    gochan.trace_stop()
    local ix = index(load(path))
    assert.equal(1, flows(ix, 0, idof(t)))
    assert.equal("main", ix.names[2][0])
  end)

  it("draws main's wait in a recv, and an arrow from the task whose send woke it", function()
    gochan.trace_start(path)
    local ch = gochan.chan()
    local t = gochan.go(function(c)
      -- a send that does not wait succeeds only once main waits in its recv
      local deadline = gochan.now() + 10
      while not c:send("x", 0) do
        if gochan.now() > deadline then return false end
        gochan.sleep(0.001)
      end
      return true
    end, ch)
    assert.same({ "x", true }, { ch:recv(10) })
    assert.same({ true, true }, { t:join(10) })
    gochan.trace_stop()
    local ix = index(load(path))
    assert.equal("main", ix.names[2][0])
    local wait
    for _, b in ipairs(ix.spans[0] and ix.spans[0].blocked or {}) do
      if b.args.waiting == "recv on gochan.chan" then wait = b end
    end
    assert.is_truthy(wait, "no blocked span of main waiting in its recv")
    assert.is_nil(ix.spans[0].running)    -- main is not scheduled by gochan
    -- the arrow goes from the task's send to main where it resumed: the
    -- end of that wait (the join may draw a second one)
    assert.is_true(flows(ix, idof(t), 0) >= 1)
    local ends = false
    for _, pair in pairs(ix.flows) do
      if pair.s and pair.f and math.tointeger(pair.s.tid) == idof(t)
         and math.tointeger(pair.f.tid) == 0 then
        assert.is_true(pair.f.ts >= pair.s.ts)
        if math.abs(pair.f.ts - (wait.ts + wait.dur)) < 0.002 then ends = true end
      end
    end
    assert.is_true(ends, "no arrow ends where main's recv resumed")
  end)

  it("shows a task blocked since before the trace started", function()
    local ch = gochan.chan()
    local t = gochan.spawn({ name = "waiter" }, function(c) return (c:recv(10)) end, ch)
    helper.wait_blocked(t, "recv on gochan.chan")
    gochan.trace_start(path)
    assert.is_true(ch:send(1, 10))
    assert.same({ true, 1 }, { t:join(10) })
    gochan.trace_stop()
    local ix = index(load(path))
    local id = idof(t)
    assert.equal("task #" .. id .. " waiter", ix.names[2][id])
    local b = ix.spans[id].blocked[1]
    assert.equal(0, b.ts)
    assert.equal("recv on gochan.chan", b.args.waiting)
  end)

  it("keeps every event of a trace longer than a buffer", function()
    -- some 18,000 events: several buffers
    local N = 3000
    gochan.trace_start(path)
    local a, b = gochan.chan(), gochan.chan()
    -- each side returns how often it parked (gochan.tasks().switches)
    local function parks(name)
      for _, info in ipairs(require("gochan").tasks()) do
        if info.name == name then return info.switches end
      end
    end
    local pong = gochan.spawn({ name = "pong" }, function(a, b, n, parks)
      for _ = 1, n do b:send(a:recv() + 1) end
      return parks("pong")
    end, a, b, N, parks)
    local ping = gochan.spawn({ name = "ping" }, function(a, b, n, parks)
      local x = 0
      for _ = 1, n do a:send(x); x = b:recv() end
      return x, parks("ping")
    end, a, b, N, parks)
    local ok1, x, pingparks = ping:join(30)
    local ok2, pongparks = pong:join(30)
    assert.same({ true, true, N }, { ok1, ok2, x })
    gochan.trace_stop()
    local ix = index(load(path))
    assert.is_true(ix.n > N * 4)
    local pi, po = idof(ping), idof(pong)
    -- every park was ended by the other's hand-off: one arrow each
    assert.equal(pingparks, flows(ix, po, pi))
    assert.equal(pongparks, flows(ix, pi, po))
    assert.is_true(#ix.spans[pi].running >= pingparks + 1)
    assert.is_true(#ix.spans[po].running >= pongparks + 1)
    -- a task's spans tile its life: each starts where the one before ended
    for _, id in ipairs({ pi, po }) do
      local all = {}
      for _, list in pairs(ix.spans[id]) do
        for _, s in ipairs(list) do all[#all + 1] = s end
      end
      table.sort(all, function(p, q) return p.ts < q.ts end)
      local worst = 0               -- one assertion, not one per span (each
      for i = 2, #all do            -- costs much under ./dev gc's stress)
        local gap = all[i].ts - (all[i - 1].ts + all[i - 1].dur)
        if math.abs(gap) > math.abs(worst) then worst = gap end
      end
      assert.is_true(math.abs(worst) < 0.0025, "a gap of " .. worst .. " us")
    end
  end)

  it("raises when a trace is already started", function()
    gochan.trace_start(path)
    assert.has_error(function() gochan.trace_start(path) end,
      "trace already started")
  end)

  it("raises for a path it cannot write", function()
    assert.has_error(function() gochan.trace_start("/nonexistent-dir/t.json") end,
      "cannot open /nonexistent-dir/t.json: No such file or directory")
    assert.has_error(function() gochan.trace_stop() end, "no trace started")
  end)

  it("rejects a path that is not a string", function()
    assert.has_error(function() gochan.trace_start() end,
      "bad argument #1 to 'trace_start' (string expected, got no value)")
    assert.has_error(function() gochan.trace_start({}) end,
      "bad argument #1 to 'trace_start' (string expected, got table)")
  end)
end)

describe("gochan.trace_stop()", function()
  it("raises when no trace is started", function()
    assert.has_error(function() gochan.trace_stop() end, "no trace started")
  end)

  it("ends the trace, so that another may start", function()
    gochan.trace_start(path)
    gochan.trace_stop()
    assert.has_error(function() gochan.trace_stop() end, "no trace started")
    gochan.trace_start(path)
    gochan.trace_stop()
    local trace = load(path)
    assert.equal("ms", trace.displayTimeUnit)
  end)
end)

-- #subprocess: ./dev tsan skips these (a child of a process under
-- ThreadSanitizer crashes); ./dev asan and ./dev test run them.
describe("a trace at exit #subprocess", function()
  -- a program whose task is blocked on a channel when it exits
  local PROGRAM = [[
    local gochan = require "gochan"
    %s
    local ch = gochan.chan()
    gochan.go(function(c) c:send(1); c:recv() end, ch)
    assert(ch:recv(10) == 1)
    local deadline = gochan.now() + 10
    repeat
      gochan.sleep(0.001)
      local info = gochan.tasks()[1]
    until info.waiting == "recv on gochan.chan" or gochan.now() > deadline
    %s
  ]]

  local function check(trace)
    local ix = index(trace)
    local found = false
    for tid, name in pairs(ix.names[2]) do
      if tid > 0 and name:match("^task #%d+$") then
        found = true
        assert.is_truthy(ix.spans[tid].running)
        -- it is still blocked at exit: its last span is that one
        local last
        for _, list in pairs(ix.spans[tid]) do
          for _, sp in ipairs(list) do
            if not last or sp.ts > last.ts then last = sp end
          end
        end
        assert.equal("blocked", last.name)
        assert.equal("recv on gochan.chan", last.args.waiting)
      end
    end
    assert.is_true(found)
  end

  it("is written when the program ends without trace_stop", function()
    local src = PROGRAM:format(("gochan.trace_start(%q)"):format(path), "")
    local out, code = helper.run_lua(src)
    assert.equal(0, code, out)
    check(load(path))
  end)

  it("is written when the program calls os.exit", function()
    local src = PROGRAM:format(("gochan.trace_start(%q)"):format(path), "os.exit(3)")
    local out, code = helper.run_lua(src)
    assert.equal(3, code, out)
    check(load(path))
  end)

  it("is made by GOCHAN_TRACE=<path> for an unchanged program", function()
    local out, code = helper.run_lua(PROGRAM:format("", ""), 20, { GOCHAN_TRACE = path })
    assert.equal(0, code, out)
    check(load(path))
  end)

  it("is not made for a GOCHAN_TRACE path it cannot write: a warning, and the program runs", function()
    local out, code = helper.run_lua(PROGRAM:format("", "print('ran')"), 20,
      { GOCHAN_TRACE = "/nonexistent-dir/t.json" })
    assert.equal(0, code, out)
    assert.equal("gochan: GOCHAN_TRACE: cannot open /nonexistent-dir/t.json: "
      .. "No such file or directory\nran\n", out)
  end)
end)
