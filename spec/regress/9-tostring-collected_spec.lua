-- tostring of an object whose __gc was called by hand raised "bad argument
-- #1 to '?' (object already collected)": printing such an object (or a
-- message built with it, as gochan.nats's argument checks do) failed.
-- It prints as "<type> (collected)", as a closed file prints "file (closed)".
local gochan = require "gochan"

local makers = {
  { "gochan.chan", gochan.chan },
  { "gochan.waitgroup", gochan.waitgroup },
  { "gochan.mutex", gochan.mutex },
  { "gochan.atomic", gochan.atomic },
  { "gochan.context", function() return (gochan.with_cancel()) end },
  { "gochan.rwmutex", gochan.rwmutex },
  { "gochan.once", gochan.once },
  { "gochan.semaphore", function() return gochan.semaphore(1) end },
  { "gochan.cond", function() return gochan.cond(gochan.mutex()) end },
  { "gochan.ticker", function() return gochan.ticker(60) end },
  { "gochan.timer", function() return gochan.timer(60) end },
  { "gochan.task", function() return gochan.go(function() end) end },
  { "gochan.frozen", function() return gochan.freeze({ 1 }) end },
  { "gochan.notifier", gochan.notifier },
}

describe("tostring of an object collected by hand", function()
  for _, m in ipairs(makers) do
    it("prints a " .. m[1] .. " as collected", function()
      local o = m[2]()
      local live = tostring(o)
      assert.equal(m[1], live:sub(1, #m[1]))
      getmetatable(o).__gc(o)
      assert.same({ true, m[1] .. " (collected)" }, { pcall(tostring, o) })
    end)
  end
end)
