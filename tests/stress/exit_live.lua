-- tests/stress/exit_live.lua <workers>: a program that ends while thousands
-- of tasks live exits at once, with status 0 and no crash. Run without
-- "child", it runs itself as the child (under `timeout`) and measures the
-- time from the child's last line to its exit; a child's tasks are blocked
-- on channels, a mutex, a waitgroup, in sleep, in __close handlers that
-- block, spinning, or passing values around, and a tiny ticker runs.

package.path = (arg[0]:match("^(.*/)") or "./") .. "?.lua;" .. package.path
local S = require "common"
local gochan = require "gochan"

local TASKS = S.scaled(5000, 200)

local function child ()
  local workers = S.workers()
  local block, mu, wg = gochan.chan(), gochan.mutex(), gochan.waitgroup()
  local ring, busy = gochan.chan(16), gochan.atomic(0)
  mu:lock()
  wg:add(1)
  local kinds = {
    function () block:recv() end,
    function () mu:lock() end,
    function () wg:wait() end,
    function () gochan.sleep(3600) end,
    function ()          -- blocks in __close once the state is closed
      local gochan = require "gochan"
      local _ <close> = setmetatable({}, { __close = function ()
        gochan.chan():recv()
      end })
      block:recv()
    end,
    function ()
      local gochan = require "gochan"
      local _ <close> = setmetatable({}, { __close = function () gochan.sleep(10) end })
      gochan.sleep(3600)
    end,
    function ()          -- a finalizer that blocks
      local gochan = require "gochan"
      local keep = setmetatable({}, { __gc = function () gochan.sleep(10) end })
      block:recv()
      return keep
    end,
    function ()          -- values going round
      for _ = 1, math.huge do
        local v = ring:recv(1)
        ring:send((v or 0) + 1, 1)
        busy:add(1)
      end
    end,
    function () gochan.sleep(0); for _ = 1, math.huge do busy:add(1); gochan.sleep(0) end end,
  }
  for i = 1, TASKS do
    if i % 500 == 0 then
      gochan.go(function () local x = 0; while true do x = x + 1 end end)  -- spins
    else
      gochan.go(kinds[i % #kinds + 1])
    end
  end
  gochan.go(function ()
    local gochan = require "gochan"
    local tk = gochan.ticker(1e-9)
    while true do tk.c:recv() end
  end)
  ring:send(0)
  -- Wait until most are blocked (bounded), so exit meets them parked.
  local deadline = gochan.now() + 20
  local blocked
  repeat
    blocked = 0
    for _, t in ipairs(gochan.tasks()) do
      if t.status == "blocked" then blocked = blocked + 1 end
    end
    if blocked >= TASKS * 0.6 then break end
    gochan.sleep(0.01)
  until gochan.now() > deadline
  io.stdout:write(("live %d blocked %d workers %d\n"):format(#gochan.tasks(), blocked, workers))
  io.stdout:write(("end %.6f\n"):format(gochan.now()))
  io.stdout:flush()
end

if arg[2] == "child" then return child() end

-- Under TSan (the interpreter with the runtime preloaded), a forked shell
-- crashes, so the child's part runs in this process and the exit is judged
-- by tools/stress: status 0 (no race reported) within its timeout.
if os.getenv("STRESS_TSAN") then
  child()
  S.ok(("workers=%s tasks=%d"):format(arg[1] or "default", TASKS),
       "in-process under TSan: its exit status is the check")
  return
end

local function q (s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local lua = os.getenv("STRESS_LUA") or "lua5.4"
local LIMIT = tonumber(os.getenv("STRESS_EXIT_LIMIT")) or 1.5
local cmd = ("timeout -s KILL 20 %s %s %s child 2>&1"):format(lua, q(arg[0]), q(arg[1] or ""))
local what = ("workers=%s tasks=%d"):format(arg[1] or "default", TASKS)
local p = assert(io.popen(cmd))
local out = p:read("a")
local t_exit = gochan.now()
local _, how, code = p:close()
local live, blocked = out:match("live (%d+) blocked (%d+)")
local t_end = tonumber(out:match("end ([%d.]+)"))
if how ~= "exit" or code ~= 0 or not t_end then
  S.fail(what, "the child ended by %s %s; its output:\n%s", how, tostring(code), out)
end
S.check(out:match("^live[^\n]*\nend [^\n]*\n$"), what, "the child wrote more:\n%s", out)
local dt = t_exit - t_end
S.check(dt <= LIMIT, what, "exit took %.3f s after the script's end (limit %g s)", dt, LIMIT)
S.ok(what, "%s live (%s blocked), exited with status 0 %.3f s after the script's end",
     live, blocked, dt)
