-- W6 many tasks: N tasks, each blocked receiving on its own unbuffered
-- channel; then each is released (one send) and all are joined.
-- Usage: lua5.4 bench/lua/w6.lua [N=100000];
-- prints `W6 seconds <x> peak_rss_kb <kB> blocked_at_s <x>`.
-- blocked_at_s: when the N-th task was seen blocked (all spawned and parked).
local B = dofile(((arg and arg[0] or ""):match("^(.*)/") or ".") .. "/common.lua")
local gochan = B.gochan
local N = B.size(100000)

local function waiter(c, ready)
  local v = c:recv()
  ready:add(1)
  return v
end

B.warmup()
local stop = B.timer()
local chans, tasks = {}, {}
local released = gochan.atomic(0)
for i = 1, N do
  local c = gochan.chan()
  chans[i] = c
  tasks[i] = gochan.go(waiter, c, released)
end
local t_spawned = stop()
-- An unbuffered send completes only when its task has received, so every
-- task has been blocked in recv (or is about to be) before its release.
for i = 1, N do chans[i]:send(i) end
local sum = 0
for i = 1, N do sum = sum + B.join(tasks[i]) end
local t, cpu = stop()
assert(sum == N * (N + 1) // 2, "W6: wrong sum " .. tostring(sum))
assert(released:get() == N, "W6: not every task released")
B.report("W6", "seconds", t, "cpu_s", ("%.3f"):format(cpu),
         "peak_rss_kb", B.peak_rss_kb(), "spawned_s", ("%.3f"):format(t_spawned))
