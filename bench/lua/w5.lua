-- W5 table messages: like W1 with N messages {id = i, name = "pizza",
-- ok = true}; the consumer sums the ids.
-- Usage: lua5.4 bench/lua/w5.lua [N=200000]; prints `W5 msgs_per_s <x>`.
local B = dofile(((arg and arg[0] or ""):match("^(.*)/") or ".") .. "/common.lua")
local gochan = B.gochan
local N = B.size(200000)

B.warmup()
local stop = B.timer()
local ch = gochan.chan(128)
local consumer = gochan.go(function(c)
  local sum = 0
  for m in c:range() do
    if m.ok and m.name == "pizza" then sum = sum + m.id end
  end
  return sum
end, ch)
local producer = gochan.go(function(c, n)
  for i = 1, n do c:send({ id = i, name = "pizza", ok = true }) end
  c:close()
end, ch, N)
local sum = B.join(consumer)
B.join(producer)
local t, cpu = stop()
assert(sum == N * (N + 1) // 2, "W5: wrong sum " .. tostring(sum))
B.report("W5", "msgs_per_s", N / t, "cpu_s", ("%.3f"):format(cpu))
