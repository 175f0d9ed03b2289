-- fanin.lua: fan-out and fan-in. Several tasks read from one channel
-- (fan-out: each value goes to exactly one of them); merge() copies all of
-- their output channels into one (fan-in) and closes it when every input
-- is closed. Run: `./dev example fanin`.
local gochan = require "gochan"

-- merge(c1, c2, ...) -> one channel that carries every value of every ci.
local function merge(...)
  local out, wg = gochan.chan(), gochan.waitgroup()
  for _, c in ipairs { ... } do
    wg:go(function() for v in c:range() do out:send(v) end end)
  end
  gochan.go(function() wg:wait(); out:close() end)
  return out
end

-- A squarer: reads numbers from input until it is closed; reports who did it.
local function squarer(name, input)
  local out = gochan.chan()
  gochan.go(function()
    for n in input:range() do out:send({ by = name, n = n, sq = n * n }) end
    out:close()
  end)
  return out
end

local numbers = gochan.chan()
gochan.go(function()
  for n = 1, 20 do numbers:send(n) end
  numbers:close()
end)

-- Fan out to three squarers, fan their results back in.
local results = merge(squarer("A", numbers), squarer("B", numbers),
                      squarer("C", numbers))
local count, sum, by = 0, 0, {}
for r in results:range() do
  count, sum = count + 1, sum + r.sq
  by[r.by] = (by[r.by] or 0) + 1
end
print(("%d squares, sum %d"):format(count, sum))
for _, name in ipairs { "A", "B", "C" } do
  print(("squarer %s did %d"):format(name, by[name] or 0))
end
