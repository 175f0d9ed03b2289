-- W4 fan-in: 4 producer tasks each send N/4 integers into one channel of
-- capacity 128; one consumer task sums them.
-- Usage: lua5.4 bench/lua/w4.lua [N=1000000]; prints `W4 msgs_per_s <x>`.
local B = dofile(((arg and arg[0] or ""):match("^(.*)/") or ".") .. "/common.lua")
local gochan = B.gochan
local P = 4
local per = B.size(1000000) // P
local N = per * P

B.warmup()
local stop = B.timer()
local ch = gochan.chan(128)
local consumer = gochan.go(function(c, n)
  local sum = 0
  for _ = 1, n do sum = sum + c:recv() end
  return sum
end, ch, N)
local producers = {}
for p = 1, P do
  producers[p] = gochan.go(function(c, n)
    for i = 1, n do c:send(i) end
  end, ch, per)
end
local sum = B.join(consumer)
for p = 1, P do B.join(producers[p]) end
local t, cpu = stop()
assert(sum == P * (per * (per + 1) // 2), "W4: wrong sum " .. tostring(sum))
B.report("W4", "msgs_per_s", N / t, "cpu_s", ("%.3f"):format(cpu))
