-- W3 spawn+join: N tasks that do nothing, all started, then all joined.
-- Usage: lua5.4 bench/lua/w3.lua [N=1000]; prints `W3 us_per_task <x>`.
local B = dofile(((arg and arg[0] or ""):match("^(.*)/") or ".") .. "/common.lua")
local gochan = B.gochan
local N = B.size(1000)

local function nothing() end

B.warmup()
local stop = B.timer()
local tasks = {}
for i = 1, N do tasks[i] = gochan.go(nothing) end
for i = 1, N do B.join(tasks[i]) end
local t, cpu = stop()
B.report("W3", "us_per_task", t / N * 1e6, "cpu_s", ("%.3f"):format(cpu))
