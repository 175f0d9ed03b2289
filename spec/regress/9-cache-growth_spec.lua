-- Making and dropping gochan objects in a loop must leave a flat program:
-- the per-state box cache (a weak table) once kept the slots of every box
-- it had held, so 1 M / 3 M channels made and dropped left a Lua heap of
-- 12 / 24 MB after a full collection; and the collector, blind to the C
-- memory a box pins, let hundreds of thousands of dead objects pile up.
-- No collectgarbage call runs inside the loops: the collector must keep
-- up by itself. Each case runs in a fresh lua5.4 (under `timeout`), so
-- one case's cache cannot hide another's.

local helper = require "spec.helper"

local function run (src)
  return helper.run_lua(src, 60)
end

-- The child: makes and drops N objects with MAKE; prints the heap after
-- a full collection, the live-object counts before and after (testing
-- builds), and the most seen alive at once. The spec runs it for N and
-- for 3 N, each in a fresh process, as a user's program would run.
local CHILD = [[
  local gochan = require "gochan"
  local N, MAKE = %d, %s
  local live = gochan._live or function () return -1 end
  local function fullgc () collectgarbage(); collectgarbage() end
  local peak = 0
  fullgc()
  local before = live()
  for i = 1, N do
    MAKE(i)
    if i %% 1000 == 0 then local now = live(); if now > peak then peak = now end end
  end
  fullgc()
  -- a worker drops its reference to a task just after the join returns
  local t0 = gochan.now()
  while live() ~= before and gochan.now() - t0 < 5 do gochan.sleep(0.001) end
  print(("heap=%%.0f before=%%d after=%%d peak=%%d"):format(
    collectgarbage("count"), before, live(), peak))
]]

-- Runs the child for 'n' objects: heap (KB), live before, after, peak.
local function child (n, make)
  local out, code = run(CHILD:format(n, make))
  assert.are.equal(0, code, out)
  local heap, before, after, peak = out:match(
    "heap=(%d+) before=(%-?%d+) after=(%-?%d+) peak=(%-?%d+)")
  assert.is_not_nil(heap, out)
  return tonumber(heap), tonumber(before), tonumber(after), tonumber(peak)
end

local KINDS = {
  { "channels", 1000000, "function () return gochan.chan(1) end" },
  { "waitgroups", 1000000, "gochan.waitgroup" },
  { "mutexes", 1000000, "gochan.mutex" },
  { "atomics", 1000000, "function (i) return gochan.atomic(i) end" },
  { "stopped tickers", 200000, "function () gochan.ticker(1000):stop() end" },
  { "joined task handles", 30000,
    "function () assert(gochan.go(function () end):join(10)) end" },
}

describe("the box cache", function()
  for _, k in ipairs(KINDS) do
    local what, n, make = k[1], k[2], k[3]
    it("stays flat when " .. what .. " are made and dropped", function()
      local heap1, before1, after1, peak1 = child(n, make)
      local heap3, before3, after3, peak3 = child(3 * n, make)
      assert.is_true(heap3 - heap1 < 1024,
        ("Lua heap %d KB after %d made, %d KB after %d"):format(heap1, n, heap3, 3 * n))
      if before1 >= 0 then                 -- a testing build: gochan._live
        -- everything made is freed, and the collector ran often enough
        -- that dead objects never piled up (tens of thousands at most)
        assert.are.same({ before1, before3 }, { after1, after3 })
        assert.is_true(peak1 < 50000 and peak3 < 50000,
          ("up to %d / %d objects alive at once"):format(peak1, peak3))
      end
    end)
  end

  it("shrinks once many live boxes are dropped", function()
    local out, code = run([[
      local gochan = require "gochan"
      local function fullgc () collectgarbage(); collectgarbage() end
      fullgc()
      local base = collectgarbage("count")
      local t = {}
      for i = 1, 100000 do t[i] = gochan.chan() end
      t = nil
      fullgc()
      local c = gochan.chan()          -- the next box finds the cache mostly empty
      fullgc()
      print(("grew=%.0f"):format(collectgarbage("count") - base), c)
    ]])
    assert.are.equal(0, code, out)
    local grew = tonumber(out:match("grew=(%-?%d+)"))
    assert.is_not_nil(grew, out)
    assert.is_true(grew < 256, ("Lua heap %d KB above the start"):format(grew))
  end)
end)
