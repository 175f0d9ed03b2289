-- CHURN: a long-running program that makes and drops objects: N buffered
-- channels made, given one value and dropped, with no collectgarbage call
-- in the loop (the collector must keep up by itself: a box reports the C
-- memory it pins). Usage: lua5.4 bench/lua/churn.lua [N=3000000]; prints
-- `CHURN ns_per_object <x> peak_rss_kb <kb> heap_kb <kb after a full gc>`.
local B = dofile(((arg and arg[0] or ""):match("^(.*)/") or ".") .. "/common.lua")
local gochan = B.gochan
local N = B.size(3000000)

B.warmup()
local stop = B.timer()
for i = 1, N do
  local ch = gochan.chan(1)
  ch:send(i)
end
local t, cpu = stop()
collectgarbage(); collectgarbage()
B.report("CHURN", "ns_per_object", t / N * 1e9, "cpu_s", ("%.3f"):format(cpu),
         "peak_rss_kb", B.peak_rss_kb(), "heap_kb", ("%.0f"):format(collectgarbage("count")))
