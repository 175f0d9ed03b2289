-- LAT / LATSLEEP wake-up latency beside busy tasks: one worker, N tasks
-- that compute without blocking, and
--   LAT: a main <-> task round trip over two unbuffered channels (the task
--        is woken by the main state), 20 times, a few ms apart;
--   LATSLEEP: a task's gochan.sleep(0.1), timed inside the task (it is
--        woken by the timer thread), 10 times.
-- A woken task should wait for at most about one slice of the spinner that
-- runs, not for every spinner in the queue.
-- Usage: lua5.4 bench/lua/latency.lua [N=8]; prints
--   `LAT ms_per_roundtrip <median> max <ms> spinners N cpu_s <s>` and
--   `LATSLEEP ms_per_sleep <median> max <ms> spinners N cpu_s <s>`.
local B = dofile(((arg and arg[0] or ""):match("^(.*)/") or ".") .. "/common.lua")
local gochan = B.gochan
local N = B.size(8)
local ROUNDS, SLEEPS = 20, 10

gochan.config{ workers = 1 }
B.warmup()

local function median (xs)
  local s = {}
  for i = 1, #xs do s[i] = xs[i] end
  table.sort(s)
  local n = #s
  return n % 2 == 1 and s[(n + 1) / 2] or (s[n / 2] + s[n / 2 + 1]) / 2
end

local function max (xs)
  local m = xs[1]
  for i = 2, #xs do if xs[i] > m then m = xs[i] end end
  return m
end

local stop = gochan.atomic(0)
local spinners = {}
for i = 1, N do
  spinners[i] = gochan.go(function(stop)
    local x = 0
    while stop:get() == 0 do
      for k = 1, 10000 do x = x + k end
    end
    return x
  end, stop)
end

local clock = B.timer()

-- main <-> task round trips
local ping, pong = gochan.chan(), gochan.chan()
local echo = gochan.go(function(ping, pong)
  while true do
    local v, ok = ping:recv()
    if not ok then return end
    pong:send(v)
  end
end, ping, pong)
ping:send(0)                      -- the echo task is up
assert(pong:recv(600) == 0, "LAT: no echo")
local rt = {}
for i = 1, ROUNDS do
  gochan.sleep(0.002 + i % 5 * 0.003)   -- the echo task is parked again,
                                        -- and the phase against the slices varies
  local t0 = gochan.now()
  ping:send(i)
  assert(pong:recv(600) == i, "LAT: wrong echo")
  rt[i] = (gochan.now() - t0) * 1e3
end
ping:close()
B.join(echo)

-- sleep(0.1) in a task
local sleeper = gochan.go(function(n)
  local ds = {}
  for i = 1, n do
    local t0 = gochan.now()
    gochan.sleep(0.1)
    ds[i] = (gochan.now() - t0) * 1e3
  end
  return ds
end, SLEEPS)
local sl = B.join(sleeper)

local _, cpu = clock()
stop:set(1)
for i = 1, N do B.join(spinners[i]) end

B.report("LAT", "ms_per_roundtrip", median(rt), "max", ("%.3f"):format(max(rt)),
         "spinners", N, "cpu_s", ("%.3f"):format(cpu))
B.report("LATSLEEP", "ms_per_sleep", median(sl), "max", ("%.3f"):format(max(sl)),
         "spinners", N, "cpu_s", ("%.3f"):format(cpu))
