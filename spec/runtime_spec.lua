-- The runtime's guarantees (API.md "Runtime"): deadlock, interrupt, exit,
-- fairness, output, task errors and gochan.config. Each runs a fixture
-- script (spec/fixtures/) in a subprocess under `timeout`, so a hang or a
-- crash fails the spec instead of the suite, and the worker count or a
-- signal cannot disturb busted's own process.
--
-- The subprocess finds the same module as this process: LUA_PATH and
-- LUA_CPATH are this state's package.path and package.cpath (so
-- `./dev asan` runs the fixtures against build-asan/ as well).

local gochan = require "gochan"

local LUA = os.getenv("GOCHAN_SPEC_LUA") or "lua5.4"
local FIXTURES = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "fixtures/"

local function q (s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local ENV = "LUA_PATH=" .. q(package.path) .. " LUA_CPATH=" .. q(package.cpath)

-- Runs a shell command line; returns its output (stdout and stderr unless
-- 'cmd' redirects them itself) and exit status.
local function sh (cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local _, how, code = p:close()
  if how == "signal" then code = 128 + code end
  return out, code
end

-- Runs fixture 'name' with arguments under `timeout 20`: output, status.
local function fixture (name, args, env)
  return sh(("%s %s timeout 20 %s %s %s 2>&1"):format(
    ENV, env or "", LUA, q(FIXTURES .. name), args or ""))
end

-- The " | "-separated fields of each line of the deadlock fixture,
-- keyed by the line's label. A multi-line message keeps its lines.
local function report_lines (out)
  local r, last = {}, nil
  if out:sub(-1) ~= "\n" then out = out .. "\n" end
  for line in out:gmatch("([^\n]*)\n") do
    local label, rest = line:match("^(%w+) | (.*)$")
    if label then r[label] = rest; last = label
    elseif last then r[last] = r[last] .. "\n" .. line end
  end
  return r
end

local function have (prog)
  local _, code = sh("command -v " .. prog .. " >/dev/null 2>&1")
  return code == 0
end

local function tmpname ()
  local name = os.tmpname()
  os.remove(name)
  return name
end

-- Seconds spent running fn(...), then fn's results.
local function timed (fn, ...)
  local t0 = gochan.now()
  local a, b = fn(...)
  return gochan.now() - t0, a, b
end

describe("deadlock", function()
  it("raises 'all tasks are asleep - deadlock!' in the main state, naming the blocked task", function()
    local out, code = fixture("deadlock.lua", "blocked-task")
    assert.equal(0, code, out)
    local r = report_lines(out)
    assert.is_not_nil(r.recv, out)
    assert.matches("^false | all tasks are asleep %- deadlock!", r.recv)
    assert.matches("gochan.task #1 (blocked: recv on gochan.chan", r.recv, 1, true)
    -- the program carries on, and the channels still work
    assert.equal("true", r.join, out)
    assert.equal("true", r["end"], out)
  end)

  it("fires for every kind of blocking call when there are no tasks", function()
    local out, code = fixture("deadlock.lua", "no-tasks")
    assert.equal(0, code, out)
    local r = report_lines(out)
    for _, call in ipairs { "recv", "wait", "select", "send" } do
      assert.is_truthy((r[call] or ""):match("^false | all tasks are asleep %- deadlock!"),
        call .. ": " .. out)
    end
    assert.equal("true", r["end"], out)
  end)

  it("never fires for a call with a timeout", function()
    local out, code = fixture("deadlock.lua", "timeout")
    assert.equal(0, code, out)
    local r = report_lines(out)
    assert.equal("true | nil | nil", r.recv, out)
    assert.equal("true | nil | nil", r.join, out)
    assert.not_matches("deadlock", out)
  end)

  it("never fires while a timer is pending", function()
    local out, code = fixture("deadlock.lua", "timer")
    assert.equal(0, code, out)
    assert.equal("true | from timer | true", report_lines(out).recv, out)
    assert.not_matches("deadlock", out)
  end)

  it("never fires while a ticker runs", function()
    local out, code = fixture("deadlock.lua", "ticker")
    assert.equal(0, code, out)
    assert.equal("true | three ticks | true", report_lines(out).recv, out)
  end)

  it("never fires while a task sleeps", function()
    local out, code = fixture("deadlock.lua", "sleeping-task")
    assert.equal(0, code, out)
    assert.equal("true | slept | true", report_lines(out).recv, out)
  end)

  it("never fires while a task is inside a C call", function()
    local out, code = fixture("deadlock.lua", "c-call")
    assert.equal(0, code, out)
    assert.equal("true | after C | true", report_lines(out).recv, out)
  end)
end)

describe("interrupt", function()
  -- Starts 'prog' on the interrupt fixture, waits until its main thread
  -- sleeps in the recv (polled: the fixture's file says the recv is next,
  -- then /proc says the thread is asleep), sends SIGINT, and returns its
  -- output and status.
  local function interrupt (prog, timeout)
    local ready = tmpname()
    local cmd = ("%s timeout 30 sh -c %s 2>&1"):format(ENV, q(([[
      %s %s %s %s & pid=$!
      n=0
      while [ ! -e %s ] && [ $n -lt 2000 ]; do sleep 0.005; n=$((n+1)); done
      while [ "$(sed 's/.*) \([A-Z]\).*/\1/' /proc/$pid/task/$pid/stat 2>/dev/null)" = R ] \
            && [ $n -lt 4000 ]; do sleep 0.005; n=$((n+1)); done
      kill -INT $pid
      wait $pid]]):format(prog, q(FIXTURES .. "interrupt.lua"), q(ready),
                          timeout or "", q(ready))))
    local out, code = sh(cmd)
    os.remove(ready)
    return out, code
  end

  it("makes the main state's blocking call raise 'interrupted', leaving channels intact", function()
    local out, code = interrupt(LUA)
    assert.equal(0, code, out)
    assert.matches("recv\tfalse\tinterrupted\tnil\n", out, 1, true)
    assert.matches("send\ttrue\nrecv\tstill works\nend\n", out, 1, true)
  end)

  it("interrupts a call that has a timeout too", function()
    local out, code = interrupt(LUA, 10)
    assert.equal(0, code, out)
    assert.matches("recv\tfalse\tinterrupted\tnil\n", out, 1, true)
    local elapsed = tonumber(out:match("elapsed (%S+)"))
    assert.is_true(elapsed ~= nil and elapsed < 5, out)
    assert.matches("recv\tstill works\nend\n", out, 1, true)
  end)

  -- lua5.4 cannot show this: lua.c installs its own SIGINT handler around
  -- every chunk. A small C host that ignores SIGINT runs the fixture.
  it("keeps ignoring SIGINT in a process that ignores it", function()
    if not have("cc") then pending("no C compiler") return end
    local host = tmpname()
    local out, code = sh(("cc -O1 -I/usr/include/lua5.4 -o %s %s -llua5.4 2>&1"):format(
      q(host), q(FIXTURES .. "sigign_host.c")))
    if code ~= 0 then
      os.remove(host)
      pending("cannot build the host: " .. out)
      return
    end
    out, code = interrupt(q(host), 1.5)
    os.remove(host)
    assert.equal(0, code, out)
    assert.matches("recv\ttrue\tnil\tnil\n", out, 1, true)       -- timed out
    local elapsed = tonumber(out:match("elapsed (%S+)"))
    assert.is_true(elapsed ~= nil and elapsed >= 1.2, out)
    assert.matches("recv\tstill works\nend\n", out, 1, true)
    assert.matches("after close: SIGINT ignored", out, 1, true)
  end)
end)

describe("exit", function()
  for _, case in ipairs { "blocked", "looping", "sleeping", "all" } do
    it("is prompt, with status 0, when tasks are " .. case, function()
      local dt, out, code = timed(fixture, "exit.lua", case)
      assert.equal(0, code, out)
      assert.matches("^end\t%d+\n$", out)
      assert.is_true(dt < 3, ("took %.2f s"):format(dt))
    end)
  end

  it("ends with status 0 when a task is inside a long C call", function()
    local dt, out, code = timed(fixture, "exit.lua", "c-call")
    assert.equal(0, code, out)
    assert.matches("^end\t1\n$", out)
    -- the runtime waits a bounded time for the C call; it must not wait
    -- for the whole call, nor hang
    assert.is_true(dt < 10, ("took %.2f s"):format(dt))
  end)

  it("leaks nothing under valgrind with tasks still running #slow", function()
    if not have("valgrind") then pending("valgrind not installed") return end
    if os.getenv("LD_PRELOAD") then pending("sanitizer build: no valgrind") return end
    -- GOCHAN_MALLOC=1: task states on malloc, where valgrind sees them
    local out, code = sh(("%s GOCHAN_MALLOC=1 timeout 120 valgrind -q --leak-check=full "
      .. "--errors-for-leak-kinds=definite --error-exitcode=9 %s %s all 2>&1"):format(
      ENV, LUA, q(FIXTURES .. "exit.lua")))
    assert.equal(0, code, out)
    assert.matches("^end\t9\n$", out)
  end)
end)

describe("fairness", function()
  it("a task that never blocks does not stop another one, with one worker", function()
    local out, code = fixture("fairness.lua", "spin")
    assert.equal(0, code, out)
    assert.matches("other\ttrue\t500500\n", out, 1, true)
    local elapsed = tonumber(out:match("elapsed (%S+)"))
    assert.is_true(elapsed ~= nil and elapsed < 2, out)
    assert.matches("hog\ttrue\tstopped\n", out, 1, true)
    assert.matches("workers\t1\n", out, 1, true)
  end)

  it("a task in a long C call does not stop the others, with one worker", function()
    local out, code = fixture("fairness.lua", "c-call")
    assert.equal(0, code, out)
    assert.matches("other\ttrue\t500500\n", out, 1, true)
    local elapsed = tonumber(out:match("elapsed (%S+)"))
    -- the C call lasts 1 s from before 'other' starts
    assert.is_true(elapsed ~= nil and elapsed < 0.8, out)
    assert.matches("hog\ttrue\tstopped\n", out, 1, true)
  end)
end)

describe("print", function()
  -- Every line of 'out' is whole: 200 lines from each of tasks 1..8 and
  -- from the main state (task 0), each exactly once, in order per task.
  local function check_lines (out)
    local seen, n, bad = {}, 0, {}
    for line in out:gmatch("([^\n]*)\n") do
      n = n + 1
      local id, i, body = line:match("^task (%d) line (%d+)\t([%a_]+)\tend$")
      id, i = tonumber(id), tonumber(i)
      local fill = id == 0 and "_" or id and string.char(96 + id)
      if not id or #body ~= 3000 or body ~= string.rep(fill, 3000)
         or (seen[id] or 0) + 1 ~= i then
        bad[#bad + 1] = line:sub(1, 60)
      else
        seen[id] = i
      end
    end
    assert.equal(0, #bad, "mixed lines, e.g. " .. tostring(bad[1]))
    assert.equal(9 * 200, n)
    for id = 0, 8 do assert.equal(200, seen[id]) end
  end

  it("writes each line whole from many tasks (one argument per line)", function()
    local out, code = fixture("print.lua", "one")
    assert.equal(0, code, out:sub(-300))
    check_lines(out)
  end)

  it("writes each line whole from many tasks (several arguments per line)", function()
    local out, code = fixture("print.lua", "many")
    assert.equal(0, code, out:sub(-300))
    check_lines(out)
  end)
end)

describe("task errors", function()
  it("go to stderr with the task id and a traceback, and the program keeps running", function()
    local errfile = tmpname()
    local out, code = sh(("%s timeout 20 %s %s 2>%s"):format(
      ENV, LUA, q(FIXTURES .. "task_error.lua"), q(errfile)))
    local f = assert(io.open(errfile))
    local err = f:read("a")
    f:close()
    os.remove(errfile)
    assert.equal(0, code, out .. err)
    assert.matches("^gochan: task #1 failed: [^\n]*task_error%.lua:6: fixture failure 42\n", err)
    assert.matches("stack traceback:", err, 1, true)
    assert.matches("in local 'inner'", err, 1, true)
    assert.equal(table.concat({
      "joined\tfalse\t" .. FIXTURES .. "task_error.lua:6: fixture failure 42",
      "status\tfailed",
      "next\ttrue\tnext task runs",
      "end", "" }, "\n"), out)
  end)
end)

describe("gochan.config", function()
  it("sets the workers before the first task, and raises on a change after", function()
    for _, n in ipairs { 1, 3 } do
      local out, code = fixture("config.lua", tostring(n))
      assert.equal(0, code, out)
      assert.matches("\nset\ttrue\t" .. n .. "\n", out, 1, true)
      assert.matches("\nbefore\t" .. n .. "\n", out, 1, true)
      assert.matches("\ntask\ttrue\t" .. n .. "\n", out, 1, true)
      assert.matches("\nsame\ttrue\t" .. n .. "\n", out, 1, true)
      assert.matches("\nother\tfalse\t[^\n]*'workers' cannot change once a task has started\n", out)
      assert.matches("\nafter\t" .. n .. "\n", out, 1, true)
    end
  end)

  it("takes its default from GOCHAN_WORKERS", function()
    local out, code = fixture("config.lua", "", "GOCHAN_WORKERS=3")
    assert.equal(0, code, out)
    assert.matches("^default\t3\n", out)
    assert.matches("\ntask\ttrue\t3\n", out, 1, true)
  end)

  it("rejects a worker count out of range", function()
    local out, code = fixture("config.lua", "")
    assert.equal(0, code, out)
    assert.matches("\nbad\tfalse\t[^\n]*bad argument #1 to 'config' %('workers' must be an integer from 1 to 64%)", out)
  end)

  it("rejects an unknown setting and changes nothing", function()
    local before = gochan.config().workers
    assert.has_error(function() gochan.config { workers = before, wokers = 2 } end,
      "bad argument #1 to 'config' (unknown setting 'wokers')")
    assert.has_error(function() gochan.config { [1] = 2 } end,
      "bad argument #1 to 'config' (unknown setting (a number key))")
    assert.equal(before, gochan.config().workers)
  end)

  it("returns the current settings", function()
    local c = gochan.config()
    assert.equal("table", type(c))
    assert.equal("integer", math.type(c.workers))
    assert.is_true(c.workers >= 1)
  end)
end)
