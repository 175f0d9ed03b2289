-- waitgroup.lua: the first seed program (producer/consumer with a WaitGroup).
-- Ten producer tasks each send i*2 on one unbuffered channel; one consumer
-- task ranges over it and counts every value down on the WaitGroup through a
-- deferred closer, so a value whose processing fails still counts.
-- Run it with `./dev example waitgroup`.
local gochan = require "gochan"

local function producer(ch, i)
  -- Something
  ch:send(i * 2)
end

-- Processing value 6 fails after it has been printed: the error must not
-- keep wg:wait() in main from returning.
local function process(i)
  print("process " .. i * 1000)
  if i == 6 then error("cannot store result " .. i * 1000, 0) end
end

local function consumer(ch, wg)
  for i in ch:range() do
    -- Go: func() { defer wg.Done(); ... }(). The closer runs when the
    -- function's scope ends, by return or by error; pcall keeps the loop
    -- going after a failed item.
    local ok, err = pcall(function()
      local _ <close> = gochan.defer(wg.done, wg)
      process(i)
    end)
    if not ok then print("failed: " .. err .. " (still counted down)") end
  end
  print("###################")
end

local wg = gochan.waitgroup()
local ch = gochan.chan()

-- Producer
for i = 0, 9 do
  wg:add(1)
  gochan.go(producer, ch, i)
end

-- Consumer
local consumer_task = gochan.go(consumer, ch, wg)
wg:wait()
-- Without this close the consumer's range never ends: it waits for an 11th
-- value forever and never prints its ###### line. (Go's main would print
-- "Done" and exit anyway; joining it here would raise "all tasks are
-- asleep - deadlock!".)
ch:close()
-- Go sleeps 2 s here to let the consumer finish; joining it is exact.
assert(consumer_task:join())
print("Done")
