-- timeout.lua: timeouts and cancellation with select. A slow reply loses a
-- race against gochan.after; a fast one wins. Then a worker ticks until
-- main closes a 'done' channel: a closed channel is ready for every
-- receiver at once, so closing it cancels everyone who listens.
-- Run: `./dev example timeout`.
local gochan = require "gochan"

-- ask(delay, limit): a reply that takes 'delay' s, awaited at most 'limit' s.
local function ask(delay, limit)
  local reply = gochan.chan(1)               -- buffered: the late sender never blocks
  gochan.go(function() gochan.sleep(delay); reply:send("answer") end)
  local i, v = gochan.select {
    { "recv", reply },
    { "recv", gochan.after(limit) },
  }
  if i == 1 then print("got " .. v) else print(("timed out after %.2f s"):format(limit)) end
end

ask(0.5, 0.05)                               -- timed out after 0.05 s
ask(0.01, 1)                                 -- got answer

-- Cancellation: the worker does a step per tick until done is closed.
local done, steps = gochan.chan(), gochan.chan(100)
local worker = gochan.go(function()
  local n = 0
  while true do
    local i = gochan.select {
      { "recv", done },                      -- closed: stop
      { "recv", gochan.after(0.01) },        -- one step of work
    }
    if i == 1 then return n end
    n = n + 1
    steps:try_send(n)
  end
end)
gochan.sleep(0.1)
done:close()
local _, n = assert(worker:join(5))
print(("worker cancelled after %s steps"):format(n > 0 and "some" or "no"))
print("status:", worker:status())
