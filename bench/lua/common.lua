-- bench/lua/common.lua: what every gochan workload script shares.
-- Loaded with dofile() by bench/lua/*.lua so the scripts run from anywhere:
-- it puts the repository's lua/ and build/ in front of package.path and
-- package.cpath (tasks inherit both, as API.md says), requires gochan, and
-- gives the size argument, a warm-up, the clock and peak RSS.

local M = {}

local here = (arg and arg[0] or ""):match("^(.*)/") or "."
local root = here .. "/../.."
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
package.cpath = root .. "/build/?.so;" .. package.cpath

local gochan = require "gochan"
M.gochan = gochan

-- The workload size: arg[1] if given (a positive integer), else 'default'.
function M.size(default)
  local n = arg and tonumber(arg[1])
  if n == nil then return default end
  assert(n == math.floor(n) and n > 0, "size must be a positive integer")
  return math.tointeger(n)
end

-- Start the workers and one task state before the clock starts, so a
-- figure measures the workload and not the runtime's first start (Go's
-- runtime is up before main runs).
function M.warmup()
  local ok = gochan.go(function() return true end):join(10)
  assert(ok, "warm-up task did not finish")
end

-- Join a task with a generous timeout; a benchmark that hangs or whose task
-- failed stops with the task's error instead of printing a figure.
function M.join(t)
  local ok, a, b = t:join(600)
  if ok == nil then error("task did not finish within 600 s") end
  if not ok then error(a, 0) end
  return a, b
end

-- Start the clocks: returns a function that gives the wall seconds and
-- the process's CPU seconds (all threads: os.clock is clock(3)) since then.
-- The CPU figure matters on a shared machine, where the wall time also
-- counts the time other processes held the CPUs.
function M.timer()
  local t0, c0 = gochan.now(), os.clock()
  return function() return gochan.now() - t0, os.clock() - c0 end
end

-- Peak resident set size of this process in kB (VmHWM), or -1 where
-- /proc is not there.
function M.peak_rss_kb()
  local f = io.open("/proc/self/status", "r")
  if not f then return -1 end
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmHWM:%s*(%d+)")) or -1
end

-- One machine-readable line: NAME unit value [key value ...]
function M.report(name, unit, value, ...)
  local parts = { name, unit, ("%.6g"):format(value) }
  local extra = table.pack(...)
  for i = 1, extra.n do parts[#parts + 1] = tostring(extra[i]) end
  io.write(table.concat(parts, " "), "\n")
  io.stdout:flush()
end

-- W2's ping-pong: two tasks, two unbuffered channels, n round trips (ping
-- sends on a, pong answers on b); with 'ctx', every recv takes it (W2CTX).
-- Returns ping's last value (n when nothing was lost).
function M.pingpong(n, ctx)
  local gochan = M.gochan
  local a, b = gochan.chan(), gochan.chan()
  local pong, ping
  if ctx == nil then
    pong = gochan.go(function(a, b, n)
      for _ = 1, n do b:send((a:recv()) + 1) end
    end, a, b, n)
    ping = gochan.go(function(a, b, n)
      local x = 0
      for _ = 1, n do a:send(x); x = b:recv() end
      return x
    end, a, b, n)
  else
    pong = gochan.go(function(a, b, n, ctx)
      for _ = 1, n do b:send((a:recv(ctx)) + 1) end
    end, a, b, n, ctx)
    ping = gochan.go(function(a, b, n, ctx)
      local x = 0
      for _ = 1, n do a:send(x); x = b:recv(ctx) end
      return x
    end, a, b, n, ctx)
  end
  local x = M.join(ping)
  M.join(pong)
  return x
end

return M
