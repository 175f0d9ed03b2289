-- W1 buffered throughput: one producer task sends N integers into a
-- channel of capacity 128, one consumer task sums them.
-- Usage: lua5.4 bench/lua/w1.lua [N=1000000]; prints `W1 msgs_per_s <x>`.
local B = dofile(((arg and arg[0] or ""):match("^(.*)/") or ".") .. "/common.lua")
local gochan = B.gochan
local N = B.size(1000000)

B.warmup()
local stop = B.timer()
local ch = gochan.chan(128)
local consumer = gochan.go(function(c)
  local sum = 0
  for v in c:range() do sum = sum + v end
  return sum
end, ch)
local producer = gochan.go(function(c, n)
  for i = 1, n do c:send(i) end
  c:close()
end, ch, N)
local sum = B.join(consumer)
B.join(producer)
local t, cpu = stop()
assert(sum == N * (N + 1) // 2, "W1: wrong sum " .. tostring(sum))
B.report("W1", "msgs_per_s", N / t, "cpu_s", ("%.3f"):format(cpu))
