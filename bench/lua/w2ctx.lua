-- W2CTX: W2 (unbuffered ping-pong, two tasks, N round trips) with a live
-- context on every recv (a context that is never canceled, made by
-- with_cancel so that each blocked recv queues its waiter on it). Beside
-- W2 it gives the cost of the context case of a wait.
-- Usage: lua5.4 bench/lua/w2ctx.lua [N=100000]; prints
-- `W2CTX us_per_roundtrip <x>`.
local B = dofile(((arg and arg[0] or ""):match("^(.*)/") or ".") .. "/common.lua")
local gochan = B.gochan
local N = B.size(100000)

B.warmup()
local ctx, cancel = gochan.with_cancel()
local stop = B.timer()
local x = B.pingpong(N, ctx)
local t, cpu = stop()
cancel()
assert(x == N, "W2CTX: wrong count " .. tostring(x))
B.report("W2CTX", "us_per_roundtrip", t / N * 1e6, "cpu_s", ("%.3f"):format(cpu))
