-- ratelimit.lua: rate limiting with a ticker (Go by Example). Five queued
-- requests are served one per tick of 50 ms; then a bursty limiter lets
-- three through at once and paces the rest by a refill ticker.
-- Run: `./dev example ratelimit`.
local gochan = require "gochan"

local INTERVAL = 0.05
local function ms(t0) return (gochan.now() - t0) * 1000 // 1 end

local requests = gochan.chan(5)
for r = 1, 5 do requests:send(r) end
requests:close()

-- Tick k comes no earlier than k intervals after the ticker starts.
local start = gochan.now()
local tk = gochan.ticker(INTERVAL)
for r in requests:range() do
  tk.c:recv()                                -- wait for the next tick
  print(("request %d at +%d ms"):format(r, ms(start)))   -- +50, +100, ...
end
tk:stop()

-- Bursty: a buffer of 3 tokens, full at the start, refilled once a tick.
local tokens = gochan.chan(3)
for _ = 1, 3 do tokens:send(true) end
start = gochan.now()
local refill = gochan.go(function()
  local t = gochan.ticker(INTERVAL)
  for _ = 1, 2 do
    local now = t.c:recv()                   -- recv returns the value and ok
    tokens:send(now)
  end
  t:stop()
end)
for r = 1, 5 do
  tokens:recv()
  print(("bursty request %d at +%d ms"):format(r, ms(start)))  -- +0 x3, +50, +100
end
assert(refill:join(5))
