-- W2TRACE: W2 (unbuffered ping-pong, two tasks, N round trips) while a
-- trace records (gochan.trace_start). The figure is the round trip with
-- recording on, beside W2's with it off; writing the JSON at trace_stop
-- comes after the clock stops and is reported apart (stop_s), with the
-- file's size (trace_mb) and number of events.
-- Usage: lua5.4 bench/lua/w2trace.lua [N=100000]; prints
-- `W2TRACE us_per_roundtrip <x> cpu_s <c> stop_s <s> trace_mb <m>`.
local B = dofile(((arg and arg[0] or ""):match("^(.*)/") or ".") .. "/common.lua")
local gochan = B.gochan
local N = B.size(100000)

B.warmup()
local path = os.tmpname()
local stop = B.timer()
gochan.trace_start(path)
local x = B.pingpong(N)
local t, cpu = stop()
local t0 = gochan.now()
gochan.trace_stop()
local stop_s = gochan.now() - t0
local f = assert(io.open(path, "rb"))
local size = f:seek("end")
f:close()
os.remove(path)
assert(x == N, "W2TRACE: wrong count " .. tostring(x))
B.report("W2TRACE", "us_per_roundtrip", t / N * 1e6, "cpu_s", ("%.3f"):format(cpu),
         "stop_s", ("%.3f"):format(stop_s), "trace_mb", ("%.1f"):format(size / 1e6))
