-- Looking inside a running program: gochan.tasks' fields and tracebacks,
-- gochan.dump, gochan.spawn's name and memlimit, the busy warning and the
-- SIGQUIT dump (API.md, "Looking inside a running program").
local gochan = require "gochan"
local helper = require "spec.helper"

local T = 5

local function pack (...) return { n = select("#", ...), ... } end

local function info (t)
  local id = tonumber(tostring(t):match("#(%d+)"))
  for _, e in ipairs(gochan.tasks { traceback = true }) do
    if e.id == id then return e end
  end
end

-- This file's name as a traceback shows it.
local SELF = debug.getinfo(1, "S").short_src

describe("gochan.tasks()", function()
  it("gives each task its name, cpu, mem and switches", function()
    local ch = gochan.chan()
    local t = gochan.spawn({ name = "counter" }, function (c)
      for _ = 1, 3 do c:recv(T) end
      local x = 0
      for i = 1, 2e6 do x = x + i end             -- some CPU
      return c:recv(T), x                         -- LAST
    end, ch)
    local last = debug.getinfo(1, "l").currentline - 2
    for i = 1, 3 do ch:send(i, T) end
    local e                                       -- parked in its last recv
    local deadline = gochan.now() + T
    repeat
      e = info(t)
      local there = e.traceback and e.traceback:find(":" .. last .. ":", 1, true)
      if not there then gochan.sleep(0.001) end
    until there or gochan.now() > deadline
    assert.equal("counter", e.name)
    assert.equal("blocked", e.status)
    assert.equal("number", math.type(e.cpu) and "number" or type(e.cpu))
    assert.is_true(e.cpu > 0, tostring(e.cpu))
    assert.equal("integer", math.type(e.mem))
    assert.is_true(e.mem > 1000 and e.mem < 10e6, tostring(e.mem))
    assert.is_true(e.switches >= 1, tostring(e.switches))
    assert.is_nil(e.mem_peak)                      -- no limit: not kept
    ch:send(4, T)
    assert.same({ n = 3, true, 4, 2000001000000 }, pack(t:join(T)))
  end)

  it("leaves name nil for a task started by gochan.go", function()
    local ch = gochan.chan()
    local t = gochan.go(function (c) return c:recv(T) end, ch)
    helper.wait_blocked(t, nil, T)
    local e = info(t)
    assert.is_nil(e.name)
    assert.is_nil(gochan.tasks()[1].traceback)    -- only when asked for
    ch:send(1, T)
    t:join(T)
  end)

  for _, where in ipairs(helper.PLACES) do
    it("shows the file and line where a blocked task waits (from the " .. where .. ")", function()
      local ch = gochan.chan()
      local t = gochan.go(function (c)
        local v = c:recv(T)                       -- the line the traceback names
        return v
      end, ch)
      local line = debug.getinfo(1, "l").currentline - 3
      helper.wait_blocked(t, nil, T)
      local id = tonumber(tostring(t):match("#(%d+)"))
      local r = helper.within(where, function (g, want)
        for _, e in ipairs(g.tasks { traceback = true }) do
          if e.id == want then return e.traceback end
        end
      end, gochan, id)
      local tb = r[1]
      assert.is_string(tb)
      assert.matches("^stack traceback:", tb)
      assert.matches("in method 'recv'", tb, 1, true)
      assert.matches(SELF .. ":" .. line .. ":", tb, 1, true)
      ch:send(7, T)
      assert.same({ n = 2, true, 7 }, pack(t:join(T)))
    end)
  end

  it("gives no stack for the task that is running (the caller)", function()
    local res = helper.within("task", function (g)
      local running, with_tb = 0, 0
      for _, e in ipairs(g.tasks { traceback = true }) do
        if e.status == "running" then
          running = running + 1
          if e.traceback then with_tb = with_tb + 1 end
        end
      end
      return running >= 1, with_tb
    end, gochan)
    assert.same({ n = 2, true, 0 }, res)
  end)

  it("loses no wake-up while tracebacks are read over and over", function()
    -- two tasks hand values back and forth while the main state reads
    -- their stacks as fast as it can: a wake-up that comes during a read
    -- must still requeue the task
    local a, b = gochan.chan(), gochan.chan()
    local N = 20000
    local pong = gochan.go(function (x, y, n)
      for _ = 1, n do y:send(x:recv(T) + 1, T) end
    end, a, b, N)
    local ping = gochan.go(function (x, y, n)
      local v = 0
      for _ = 1, n do x:send(v, T); v = y:recv(T) end
      return v
    end, a, b, N)
    local reads = 0
    while ping:status() == "running" do
      for _, e in ipairs(gochan.tasks { traceback = true }) do
        if e.traceback then reads = reads + 1 end
      end
    end
    assert.same({ n = 2, true, N }, pack(ping:join(T)))
    assert.same({ n = 1, true }, pack(pong:join(T)))
    assert.is_true(reads > 0)
  end)

  it("rejects options that are not a table", function()
    assert.has_error(function() gochan.tasks(1) end,
      "bad argument #1 to 'tasks' (table expected, got number)")
  end)
end)

describe("gochan.dump()", function()
  it("writes every task with its name, status, wait and stack to a file", function()
    local ch = gochan.chan()
    local t = gochan.spawn({ name = "oven" }, function (c) return c:recv(T) end, ch)
    helper.wait_blocked(t, nil, T)
    local id = tonumber(tostring(t):match("#(%d+)"))
    local f = io.tmpfile()
    assert.equal(f, gochan.dump(f))
    f:seek("set")
    local text = f:read("a")
    f:close()
    assert.matches("^gochan: %d+ tasks?\n\n", text)
    assert.matches(('task #%d "oven" (blocked: recv on gochan.chan)\nstack traceback:\n'):format(id),
                   text, 1, true)
    assert.matches(SELF .. ":%d+: in function <", text)
    ch:send(1, T)
    t:join(T)
  end)

  it("writes to stderr by default #subprocess", function()
    local out, code = helper.run_lua([[
      local gochan = require "gochan"
      local ch = gochan.chan()
      local t = gochan.spawn({ name = "w" }, function (c) return c:recv(5) end, ch)
      while gochan.tasks()[1].status ~= "blocked" do gochan.sleep(0.001) end
      gochan.dump()
      ch:send(1, 5)
      assert(t:join(5))
      print("end")
    ]], 20)
    assert.equal(0, code, out)
    assert.matches('task #1 "w" (blocked: recv on gochan.chan)\nstack traceback:\n', out, 1, true)
    assert.matches("end\n$", out)
  end)

  it("raises on a closed file or a value that is no file", function()
    local f = io.tmpfile()
    f:close()
    assert.has_error(function() gochan.dump(f) end, "attempt to use a closed file")
    assert.has_error(function() gochan.dump(3) end,
      "bad argument #1 to 'dump' (file expected, got number)")
  end)
end)

describe("gochan.spawn(opts, fn, ...)", function()
  it("starts fn(...) as gochan.go does", function()
    local t = gochan.spawn({}, function (a, b) return a + b end, 2, 3)
    assert.same({ n = 2, true, 5 }, pack(t:join(T)))
  end)

  it("rejects bad options and starts nothing", function()
    local before = #gochan.tasks()
    local f = function () end
    assert.has_error(function() gochan.spawn({ memlimit = 1000 }, f) end,
      "bad argument #1 to 'spawn' ('memlimit' must be an integer of at least 65536 (bytes))")
    assert.has_error(function() gochan.spawn({ memlimit = 1e6 + 0.5 }, f) end,
      "bad argument #1 to 'spawn' ('memlimit' must be an integer of at least 65536 (bytes))")
    assert.has_error(function() gochan.spawn({ memlimit = "1000000" }, f) end,
      "bad argument #1 to 'spawn' ('memlimit' must be an integer of at least 65536 (bytes))")
    assert.has_error(function() gochan.spawn({ name = 1 }, f) end,
      "bad argument #1 to 'spawn' ('name' must be a string, got number)")
    assert.has_error(function() gochan.spawn({ nmae = "x" }, f) end,
      "bad argument #1 to 'spawn' (unknown option 'nmae')")
    assert.has_error(function() gochan.spawn(f) end,
      "bad argument #1 to 'spawn' (table expected, got function)")
    assert.has_error(function() gochan.spawn({}, 1) end,
      "bad argument #2 to 'spawn' (function expected, got number)")
    assert.equal(before, #gochan.tasks())
  end)

  it("fails a task that passes its memlimit, alone", function()
    local steady = gochan.go(function ()
      local s = 0
      for i = 1, 50 do s = s + i; gochan.sleep(0.001) end
      return s
    end)
    local hog = gochan.spawn({ name = "hog", memlimit = 10 * 1024 * 1024 }, function ()
      local t = {}
      for i = 1, 1e8 do t[i] = ("x"):rep(64) .. i end
      return #t
    end)
    local ok, err, tb = hog:join(20)
    assert.is_false(ok)
    assert.matches("^not enough memory\nstack traceback:", err)
    assert.is_string(tb)
    assert.same({ n = 2, true, 1275 }, pack(steady:join(T)))
  end)

  it("shows mem_peak for a task with a memlimit", function()
    local ch = gochan.chan()
    local t = gochan.spawn({ memlimit = 1024 * 1024 }, function (c)
      local big = ("y"):rep(200000)
      return c:recv(T), #big
    end, ch)
    helper.wait_blocked(t, nil, T)
    local e = info(t)
    assert.is_true(e.mem_peak >= 200000 and e.mem_peak <= 1024 * 1024, tostring(e.mem_peak))
    assert.is_true(e.mem <= e.mem_peak)
    ch:send(1, T)
    t:join(T)
  end)
end)

describe("names in reports", function()
  it("names a failed task on stderr and in the deadlock error #subprocess", function()
    local out, code = helper.run_lua([[
      local gochan = require "gochan"
      local t = gochan.spawn({ name = "bad" }, function () error("boom", 0) end)
      t:join(5)
      gochan.spawn({ name = "stuck" }, function (c) c:recv() end, gochan.chan())
      gochan.chan():recv()
    ]], 20)
    assert.not_equal(0, code)
    assert.matches('gochan: task #1 "bad" failed: boom', out, 1, true)
    assert.matches('gochan.task #2 "stuck" (blocked: recv on gochan.chan)', out, 1, true)
    assert.matches("all tasks are asleep - deadlock!", out, 1, true)
  end)
end)

describe("gochan.config: sigquit and busy_warn", function()
  it("has them in its settings, and rejects bad values changing nothing", function()
    local c = gochan.config()
    assert.equal("default", c.sigquit)
    assert.is_false(c.busy_warn)
    assert.has_error(function() gochan.config { sigquit = "yes" } end,
      [[bad argument #1 to 'config' ('sigquit' must be "dump", "default" or false)]])
    assert.has_error(function() gochan.config { busy_warn = -1 } end,
      "bad argument #1 to 'config' ('busy_warn' must be a number of seconds >= 0, or false)")
    assert.has_error(function() gochan.config { busy_warn = 1, sigquit = 3 } end,
      [[bad argument #1 to 'config' ('sigquit' must be "dump", "default" or false)]])
    assert.same(c, gochan.config())                -- nothing changed
    assert.equal(0.5, gochan.config { busy_warn = 0.5 }.busy_warn)
    assert.is_false(gochan.config { busy_warn = false }.busy_warn)
  end)

  it("warns once about a task that runs without blocking #subprocess", function()
    local out, code = helper.run_lua([[
      local gochan = require "gochan"
      gochan.config { busy_warn = 0.1 }
      local t = gochan.spawn({ name = "spinner" }, function ()
        local t0, x = gochan.now(), 0
        while gochan.now() - t0 < 0.5 do x = x + 1 end
        return x > 0
      end)
      print(t:join(10))
    ]], 20)
    assert.equal(0, code, out)
    assert.matches('gochan: task #1 "spinner" has run [%d.]+ s without blocking\nstack traceback:\n', out)
    assert.matches("%(command line%):%d+: in function", out)
    local _, n = out:gsub("without blocking", "")
    assert.equal(1, n)
    assert.matches("true\n$", out)
  end)

  it("dumps the tasks on SIGQUIT and goes on #subprocess", function()
    -- the dump goes to stderr, here a file that the program reads until
    -- the dump is in it (it comes from the monitor thread, not the handler)
    local errfile = os.tmpname()
    local src = [[
      local gochan = require "gochan"
      gochan.config { sigquit = "dump" }
      local ch = gochan.chan()
      gochan.spawn({ name = "sleeper" }, function (c) return c:recv(5) end, ch)
      while gochan.tasks()[1].status ~= "blocked" do gochan.sleep(0.001) end
      local pid = io.open("/proc/self/stat"):read("l"):match("^(%d+)")
      io.popen("kill -QUIT " .. pid):close()   -- (os.execute: system() ignores SIGQUIT meanwhile)
      local deadline, dumped = gochan.now() + 10, false
      repeat
        local f = io.open(os.getenv("DUMP_FILE"))
        dumped = f:read("a"):find("stack traceback:\n", 1, true) ~= nil
        f:close()
        if not dumped then gochan.sleep(0.005) end
      until dumped or gochan.now() > deadline
      ch:send(1, 5)
      print("alive", dumped)
    ]]
    local p = assert(io.popen(("DUMP_FILE=%s LUA_PATH=%s LUA_CPATH=%s timeout 20 %s -e %s 2>%s")
      :format(helper.shq(errfile), helper.shq(package.path), helper.shq(package.cpath),
              os.getenv("GOCHAN_SPEC_LUA") or "lua5.4", helper.shq(src), helper.shq(errfile))))
    local out = p:read("a")
    local ok = p:close()
    local f = assert(io.open(errfile))
    local err = f:read("a")
    f:close()
    os.remove(errfile)
    assert.is_true(ok, out .. err)
    assert.matches('task #1 "sleeper" (blocked: recv on gochan.chan)\nstack traceback:\n', err, 1, true)
    assert.equal("alive\ttrue\n", out)
  end)
end)
