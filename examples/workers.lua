-- workers.lua: N worker processes share one work queue, a distributed
-- channel (conn:channel, a JetStream work queue): each job goes to one of
-- them, and a job a worker took but did not finish (the process died) goes
-- to another. The boss (this script without arguments) starts the workers
-- as processes of their own, sends the jobs, prints the results they
-- publish, and closes the queue, which ends them:
--
--   lua5.4 examples/workers.lua                 # boss, WORKERS=3, JOBS=9
--   lua5.4 examples/workers.lua worker 1        # one worker (started by it)
--
-- The server: NATS_URL (default nats://127.0.0.1:4222), with JetStream
-- (nats-server -js). QUEUE names the channel (default "jobs").
local gochan = require "gochan"
local nats = require "gochan.nats"

local URL = os.getenv("NATS_URL") or "nats://127.0.0.1:4222"
local QUEUE = os.getenv("QUEUE") or "jobs"
local RESULTS = QUEUE .. ".results"

-- A worker: squares each job it takes; the next recv acknowledges it.
local function worker(id)
  local conn = nats.connect(URL, { name = "worker " .. id })
  local jobs = conn:channel(QUEUE)
  for j in jobs:range() do
    gochan.sleep(0.01)                        -- the work
    conn:publish(RESULTS, { worker = id, job = j, square = j * j })
  end
  conn:close()
end

local function boss(nworkers, njobs)
  local conn = nats.connect(URL, { name = "boss" })
  conn:delete_channel(QUEUE)                  -- a fresh queue
  local jobs = conn:channel(QUEUE)
  local results = conn:subscribe(RESULTS)
  assert(conn:flush(5))
  local procs = {}
  for id = 1, nworkers do
    procs[id] = assert(io.popen(("exec %s %s worker %d"):format(
      arg[-1] or "lua5.4", arg[0], id)))
  end
  for j = 1, njobs do assert(jobs:send(j, 10)) end
  local done, sum = {}, 0
  local n = 0
  while n < njobs do
    local r = results:recv(30)
    assert(r, "no result for 30 s")
    if not done[r.job] then                   -- at-least-once: once here
      done[r.job], n = true, n + 1
      sum = sum + r.square
      print(("worker %d: job %d -> %d"):format(r.worker, r.job, r.square))
    end
  end
  jobs:close()                                -- the workers' range ends
  for _, p in ipairs(procs) do p:close() end
  conn:delete_channel(QUEUE)
  conn:close()
  print(("%d results, sum of squares %d"):format(n, sum))
end

if arg[1] == "worker" then
  worker(assert(tonumber(arg[2]), "usage: workers.lua worker <id>"))
else
  boss(tonumber(os.getenv("WORKERS")) or 3, tonumber(os.getenv("JOBS")) or 9)
end
