-- spec/helper.lua: run by busted before any spec (.busted 'helper') and
-- required by the specs ("spec.helper") for timing utilities. Running it
-- twice in one state is harmless: paths are only added when missing.

local M = {}

-- The specs run from the repository root against the build in build/.
-- .busted (or busted --lpath/--cpath, e.g. build-asan/) normally sets the
-- paths; only when the module can't be found that way are the defaults
-- added, at the end, so that a path given on the command line always wins.
if not package.searchpath("gochan", package.path) then
  package.path = package.path .. ";lua/?.lua;lua/?/init.lua"
end
if not package.searchpath("gochan.core", package.cpath) then
  package.cpath = package.cpath .. ";build/?.so"
end

-- CI runs the suite once with the collector always running (STYLE.md §8),
-- so that a box collected at the wrong moment shows up as a crash here.
if os.getenv("GOCHAN_GC_STRESS") then
  collectgarbage("incremental", 100, 1000)
end

-- A function written in a spec file has busted's environment table as its
-- _ENV, not the globals, and a function's _ENV crosses as the table it is:
-- each function sent to a task would carry a copy of that table and of
-- busted's state behind its metatable. Named as a module, it crosses by
-- name instead, and arrives as a view of the task's globals (the module
-- spec.fixtures.busted_env), as a plain script's _ENV would be them. The busted
-- object is found among the locals of the code that runs this helper;
-- when it is not there, functions are just copied with that table.
do
  local busted
  for level = 2, 16 do
    if not debug.getinfo(level, "f") then break end
    for i = 1, 64 do
      local name, v = debug.getlocal(level, i)
      if not name then break end
      if name == "busted" and type(v) == "table" and type(v.wrap) == "function" then
        busted = v
      end
    end
    if busted then break end
  end
  M.busted = busted
  if busted then
    local probe = function() return _ENV end
    busted.wrap(probe)
    local env = probe()
    if env ~= _G and package.loaded["spec.fixtures.busted_env"] == nil then
      package.loaded["spec.fixtures.busted_env"] = env
    end
  end
end

-- Live tasks once everything a spec started was joined: a task leaves the
-- live list just after its joiners are woken, so give it a moment before
-- calling it a leak.
function M.settle ()
  local gochan = require "gochan"
  local deadline = gochan.now() + 2
  while #gochan.tasks() > 0 and gochan.now() < deadline do
    gochan.sleep(0.005)
  end
  return gochan.tasks()
end

-- After every spec of every file (registered here, on busted's root
-- context): no task the spec started may still be live. Every task a spec
-- starts ends within the spec: every blocking call has a timeout.
local function no_live_tasks ()
  local left = M.settle()
  if #left > 0 then
    local desc = {}
    for i = 1, math.min(#left, 5) do
      local t = left[i]
      desc[#desc + 1] = ("#%d %s %s"):format(t.id, t.status, tostring(t.waiting))
    end
    error(("%d tasks still live after the spec: %s%s"):format(#left,
      table.concat(desc, ", "), #left > 5 and ", ..." or ""))
  end
end
if M.busted and M.busted.executors and M.busted.executors.after_each
   and not package.loaded["spec.helper"] then
  M.busted.executors.after_each(no_live_tasks)
end

-- Polls until the task 't' (a handle or an id) shows as blocked in
-- gochan.tasks() (waiting on 'what', if given): the way to know "it is
-- blocked now" without sleeping. Fails after 'timeout' seconds (default 5).
function M.wait_blocked (t, what, timeout)
  local gochan = require "gochan"
  local id = type(t) == "number" and t
    or tonumber(tostring(t):match("^gochan%.task #(%d+)"))
  local deadline = gochan.now() + (timeout or 5)
  while true do
    for _, info in ipairs(gochan.tasks()) do
      if info.id == id and info.status == "blocked"
         and (what == nil or info.waiting == what) then
        return info
      end
    end
    if gochan.now() > deadline then
      error(("task #%d not blocked%s within %g s"):format(id,
        what and (" on " .. what) or "", timeout or 5), 2)
    end
    gochan.sleep(0.001)
  end
end

-- Polls (from a task, at most 'timeout' seconds, default 5) until the
-- main state's thread sleeps in the kernel (state S in /proc): the way to
-- know that the main state is blocked in a gochan call, which
-- gochan.tasks() does not list. The main state's thread is the process's
-- first thread (its id is the pid). A sleep there that is no gochan wait
-- (a brief lock, under valgrind its scheduler) only makes the caller act
-- early: before the wait, where every call under test has the same
-- outcome (API.md: a call whose context is done on entry gives up at once).
function M.wait_main_blocked (timeout)
  local gochan = require "gochan"
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("l"):match("^(%d+)")
  f:close()
  local path = ("/proc/%s/task/%s/stat"):format(pid, pid)
  local deadline = gochan.now() + (timeout or 5)
  while true do
    local st = assert(io.open(path))
    local state = st:read("l"):match("^.*%) (%a)")
    st:close()
    if state == "S" then return end
    if gochan.now() > deadline then
      error(("the main state not blocked within %g s"):format(timeout or 5), 2)
    end
    gochan.sleep(0.001)
  end
end

-- Starts a task that calls fn(...) once the call under test, made in
-- 'where' (a PLACES entry) by M.within, is blocked: in the main state, its
-- thread asleep (M.wait_main_blocked); in a task, a task other than this
-- one shown as blocked on 'what' (e.g. "send on gochan.chan"). Returns the
-- task (join it: it fails if the wait was never seen).
function M.when_blocked (where, what, fn, ...)
  local gochan = require "gochan"
  return gochan.go(function(place, w, f, ...)
    local helper = require "spec.helper"
    if place == "main state" then
      helper.wait_main_blocked()
    else
      local deadline = gochan.now() + 5
      local found = false
      repeat
        for _, info in ipairs(gochan.tasks()) do
          if info.status == "blocked" and info.waiting == w then found = true end
        end
        if not found then
          assert(gochan.now() < deadline, "no task blocked on " .. w .. " within 5 s")
          gochan.sleep(0.001)
        end
      until found
    end
    return f(...)
  end, where, what, fn, ...)
end

-- Where a blocking call is specified from: every blocking call works from
-- the main state (it waits on its thread) and from a task (it parks).
M.PLACES = { "main state", "task" }

-- Runs fn(...) in the main state, or as a task that is joined (10 s at
-- most), and returns fn's results packed. 'fn' crosses to the task as any
-- function does: keep what it needs in its arguments and upvalues.
function M.within (where, fn, ...)
  local gochan = require "gochan"
  if where == "main state" then return table.pack(fn(...)) end
  local r = table.pack(gochan.go(fn, ...):join(10))
  if r[1] ~= true then
    error(("the task failed: %s"):format(tostring(r[2])), 2)
  end
  return table.pack(table.unpack(r, 2, r.n))
end

-- 's' quoted for the shell.
function M.shq (s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- Runs Lua source 'src' in a fresh lua5.4 (GOCHAN_SPEC_LUA) with this
-- state's module paths, under `timeout` ('seconds', default 20), stderr
-- joined to stdout: its output and exit status (128 + n for signal n).
-- 'env' (optional): more environment variables for it, { NAME = value }.
function M.run_lua (src, seconds, env)
  local vars = {}
  for k, v in pairs(env or {}) do vars[#vars + 1] = k .. "=" .. M.shq(v) .. " " end
  table.sort(vars)
  local cmd = ("%sLUA_PATH=%s LUA_CPATH=%s timeout %d %s -e %s 2>&1"):format(
    table.concat(vars), M.shq(package.path), M.shq(package.cpath), seconds or 20,
    os.getenv("GOCHAN_SPEC_LUA") or "lua5.4", M.shq(src))
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local _, how, code = p:close()
  if how == "signal" then code = 128 + code end
  return out, code
end

-- The message of the error fn() raises (it must raise), without the
-- position in front of it.
function M.message (fn)
  local ok, err = pcall(fn)
  assert(not ok, "expected an error, got none")
  return (tostring(err):gsub("^[^:]*:%d+: ", ""))
end

-- Calls o's __gc by hand (the object is collected; the box stays) and
-- returns o.
function M.collected (o)
  getmetatable(o).__gc(o)
  return o
end

-- Upper slack (seconds) on any timing assertion: sanitizer and valgrind
-- builds are slow, and a late wake-up is not a bug, an early one is.
M.SLACK = tonumber(os.getenv("GOCHAN_SPEC_SLACK")) or 1.5

-- Seconds spent in fn(...), followed by fn's results packed in a table.
function M.elapsed (fn, ...)
  local now = require("gochan").now
  local t0 = now()
  local res = table.pack(fn(...))
  return now() - t0, res
end

-- Checks that 'dt' seconds is a wait of about 'expected' seconds: never
-- shorter than 80% of it, and not longer than 'expected' + M.SLACK.
function M.assert_waited (dt, expected)
  assert(type(dt) == "number", "elapsed time is not a number")
  if dt < expected * 0.8 or dt > expected + M.SLACK then
    error(("waited %.4f s, expected about %.4f s"):format(dt, expected), 2)
  end
end

-- Checks that 'dt' seconds is "at once": no real wait happened.
function M.assert_prompt (dt)
  if dt > 0.02 + M.SLACK / 10 then
    error(("took %.4f s, expected no wait"):format(dt), 2)
  end
end

-- Every value a channel holds now, in order (try_recv until it would block
-- or the channel is closed and drained).
function M.drain (ch)
  local out = {}
  while true do
    local v, ok = ch:try_recv()
    if not ok then return out end
    out[#out + 1] = v
  end
end

return M
