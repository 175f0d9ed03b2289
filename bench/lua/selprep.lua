-- SELPREP: SEL (bench/lua/sel.lua) with its select prepared once
-- (gochan.selector): one task selects over two channels (capacity 128
-- each), fed by two producer tasks with N/2 integers each; N selects.
-- Usage: lua5.4 bench/lua/selprep.lua [N=1000000]; prints `SELPREP selects_per_s <x>`.
local B = dofile(((arg and arg[0] or ""):match("^(.*)/") or ".") .. "/common.lua")
local gochan = B.gochan
local half = B.size(1000000) // 2
local N = half * 2

B.warmup()
local stop = B.timer()
local c1, c2 = gochan.chan(128), gochan.chan(128)
local selector = gochan.go(function(c1, c2, n)
  local sel = gochan.selector { { "recv", c1 }, { "recv", c2 } }
  local sum, hits = 0, { 0, 0 }
  for _ = 1, n do
    local i, v = sel:select()
    sum = sum + v
    hits[i] = hits[i] + 1
  end
  return sum, hits[1] == n // 2 and hits[2] == n // 2
end, c1, c2, N)
local feed = function(c, n) for i = 1, n do c:send(i) end end
local p1 = gochan.go(feed, c1, half)
local p2 = gochan.go(feed, c2, half)
local sum, even = B.join(selector)
B.join(p1); B.join(p2)
local t, cpu = stop()
assert(sum == 2 * (half * (half + 1) // 2), "SELPREP: wrong sum " .. tostring(sum))
assert(even, "SELPREP: counts per channel are wrong")
B.report("SELPREP", "selects_per_s", N / t, "cpu_s", ("%.3f"):format(cpu))
