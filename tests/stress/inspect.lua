-- tests/stress/inspect.lua: gochan.tasks{traceback = true} and gochan.dump
-- read tasks' stacks while those tasks hand values back and forth, are
-- preempted and end. Each read claims a parked or queued task (sched.c,
-- task_claim); a wake-up during a claim must still requeue the task, and
-- no value may be lost or doubled. (The testing build also asserts that a
-- claim never overlaps a slice.)
local gochan = require "gochan"
local S = dofile(((arg and arg[0] or ""):match("^(.*)/") or ".") .. "/common.lua")

local workers = S.workers()
local PAIRS, ROUNDS = 4, S.scaled(5000, 100)

-- pairs of tasks in ping-pong, plus spinners that are preempted
local tasks, expect = {}, 0
for p = 1, PAIRS do
  local a, b = gochan.chan(), gochan.chan()
  tasks[#tasks + 1] = gochan.spawn({ name = "pong" .. p }, function (x, y, n)
    for _ = 1, n do y:send(x:recv() + 1) end
    return 0
  end, a, b, ROUNDS)
  tasks[#tasks + 1] = gochan.spawn({ name = "ping" .. p }, function (x, y, n)
    local v = 0
    for _ = 1, n do x:send(v); v = y:recv() end
    return v
  end, a, b, ROUNDS)
  expect = expect + ROUNDS
end
local stop = gochan.chan()
for s = 1, 2 do
  tasks[#tasks + 1] = gochan.spawn({ name = "spin" .. s }, function (c)
    local ok                        -- computes until 'stop' is closed
    repeat local _ _, ok = c:try_recv() until ok == false
    return 0
  end, stop)
end

-- the reader: as many reads as it can until every ping has ended
local reads, stacks = 0, 0
local reader = gochan.go(function (ts)
  local r, s = 0, 0
  local f = io.open("/dev/null", "w")
  while true do
    local alive = false
    for i = 2, #ts, 2 do
      if i <= 2 * 4 and ts[i]:status() == "running" then alive = true end
    end
    if not alive then break end
    for _, e in ipairs(gochan.tasks { traceback = true }) do
      r = r + 1
      if e.traceback then s = s + 1 end
    end
    if r % 64 == 0 then gochan.dump(f) end
    gochan.sleep(0.0001)            -- the others get the workers too
  end
  f:close()
  return r, s
end, tasks)
reads, stacks = S.join(reader, "reader")

local sum = 0
for i = 1, 2 * PAIRS do sum = sum + S.join(tasks[i], "ping-pong") end
stop:close()
for i = 2 * PAIRS + 1, #tasks do S.join(tasks[i], "spinner") end
S.check(sum == expect, "sum", "%d, expected %d", sum, expect)
S.check(stacks > 0, "stacks", "no traceback read in %d reads", reads)
S.ok("tracebacks", "%d workers, %d pairs x %d rounds, %d reads, %d stacks",
     workers, PAIRS, ROUNDS, reads, stacks)
