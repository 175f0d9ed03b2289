-- workerpool.lua: a fixed pool of worker tasks takes jobs from one channel
-- and sends results on another; main collects exactly one result per job.
-- wg:go counts each worker down when it ends, so the results channel can be
-- closed once every worker has returned. Run: `./dev example workerpool`.
local gochan = require "gochan"

local WORKERS, JOBS = 3, 9

local function worker(id, jobs, results)
  for n in jobs:range() do
    gochan.sleep(0.01)                       -- the "work"
    results:send({ worker = id, job = n, value = n * n })
  end
end

local jobs = gochan.chan(JOBS)               -- room for every job: never blocks
local results = gochan.chan()
local wg = gochan.waitgroup()
for id = 1, WORKERS do wg:go(worker, id, jobs, results) end

for n = 1, JOBS do jobs:send(n) end
jobs:close()                                 -- workers leave their range loops

-- Close results once all workers are done, from a task of its own, so that
-- main can range over results meanwhile.
gochan.go(function() wg:wait(); results:close() end)

local sum, seen = 0, {}
for r in results:range() do
  seen[#seen + 1] = r.worker
  sum = sum + r.value
  print(("worker %d: job %d -> %d"):format(r.worker, r.job, r.value))
end
print(("%d results, sum of squares %d"):format(#seen, sum))
