-- counter.lua: eight tasks add to one shared counter 1000 times each.
-- Tasks share no Lua variables, so the counter is a gochan.atomic. A
-- get-then-set is a read-modify-write that another task can interleave,
-- so it needs the mutex; a:add and a cas loop are atomic by themselves.
-- Run: `./dev example counter`.
local gochan = require "gochan"

local TASKS, TIMES = 8, 1000

local function run(name, body)
  local counter, wg = gochan.atomic(0), gochan.waitgroup()
  for _ = 1, TASKS do wg:go(body, counter) end
  wg:wait()
  print(("%-7s %d (expected %d)"):format(name, counter:get(), TASKS * TIMES))
end

local mu = gochan.mutex()
run("mutex", function(counter)
  for _ = 1, TIMES do
    local _ <close> = mu:lock()              -- unlocked at the end of each pass
    counter:set(counter:get() + 1)
  end
end)

run("atomic", function(counter)
  for _ = 1, TIMES do counter:add(1) end
end)

run("cas", function(counter)
  for _ = 1, TIMES do
    repeat local old = counter:get() until counter:cas(old, old + 1)
  end
end)
