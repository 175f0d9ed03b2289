-- W6 many tasks: N tasks, each blocked receiving on its own unbuffered
-- channel; once all N are blocked at once, each is released (one send) and
-- all are joined.
-- Usage: lua5.4 bench/lua/w6.lua [N=100000];
-- prints `W6 seconds <x> cpu_s <x> peak_rss_kb <kB> spawned_s <x> blocked_s <x>`.
-- spawned_s: when the last gochan.go returned; blocked_s: when all N tasks
-- had started and were entering recv (peak RSS is reached about then).
local B = dofile(((arg and arg[0] or ""):match("^(.*)/") or ".") .. "/common.lua")
local gochan = B.gochan
local N = B.size(100000)

local function waiter(c, count)
  count:add(1)          -- started: about to block
  local v = c:recv()
  count:add(1)          -- released
  return v
end

B.warmup()
local stop = B.timer()
local chans, tasks = {}, {}
local count = gochan.atomic(0)
for i = 1, N do
  local c = gochan.chan()
  chans[i] = c
  tasks[i] = gochan.go(waiter, c, count)
end
local t_spawned = stop()
-- Tasks start on the workers while main spawns; wait until every one has
-- started, so that all N are blocked at the same time (their states all
-- alive: what the peak RSS measures) before the first release.
while count:get() < N do gochan.sleep(0.001) end
local t_blocked = stop()
for i = 1, N do chans[i]:send(i) end
local sum = 0
for i = 1, N do sum = sum + B.join(tasks[i]) end
local t, cpu = stop()
assert(sum == N * (N + 1) // 2, "W6: wrong sum " .. tostring(sum))
assert(count:get() == 2 * N, "W6: not every task released")
B.report("W6", "seconds", t, "cpu_s", ("%.3f"):format(cpu),
         "peak_rss_kb", B.peak_rss_kb(), "spawned_s", ("%.3f"):format(t_spawned),
         "blocked_s", ("%.3f"):format(t_blocked))
