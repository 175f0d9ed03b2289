-- W2 unbuffered ping-pong: two tasks, two unbuffered channels, N round
-- trips (ping sends on a, pong answers on b).
-- Usage: lua5.4 bench/lua/w2.lua [N=100000]; prints `W2 us_per_roundtrip <x>`.
local B = dofile(((arg and arg[0] or ""):match("^(.*)/") or ".") .. "/common.lua")
local N = B.size(100000)

B.warmup()
local stop = B.timer()
local x = B.pingpong(N)
local t, cpu = stop()
assert(x == N, "W2: wrong count " .. tostring(x))
B.report("W2", "us_per_roundtrip", t / N * 1e6, "cpu_s", ("%.3f"):format(cpu))
