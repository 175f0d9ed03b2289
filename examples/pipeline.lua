-- pipeline.lua: three stages joined by channels (Go blog, "Pipelines and
-- cancellation"): gen emits numbers, sq squares them, main sums. Each stage
-- closes its output when its input is exhausted, so the close travels down
-- the pipeline and every loop ends. Run: `./dev example pipeline`.
local gochan = require "gochan"

-- gen(...) -> channel that carries its arguments, then is closed.
local function gen(...)
  local out = gochan.chan()
  gochan.go(function(...)
    for _, n in ipairs { ... } do out:send(n) end
    out:close()
  end, ...)
  return out
end

-- sq(input) -> channel of the squares of what arrives on input.
local function sq(input)
  local out = gochan.chan()
  gochan.go(function()
    for n in input:range() do out:send(n * n) end
    out:close()
  end)
  return out
end

-- Stages compose: sq(sq(gen(...))) gives fourth powers.
for v in sq(gen(1, 2, 3, 4, 5)):range() do print("square", v) end
local total = 0
for v in sq(sq(gen(1, 2, 3))):range() do total = total + v end
print("sum of fourth powers of 1..3:", total)
