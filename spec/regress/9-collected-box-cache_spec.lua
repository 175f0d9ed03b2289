-- A box whose __gc was called by hand stayed in its state's box cache
-- under its object's address: the next push of that object (received
-- again from a channel) gave back the emptied box, and so did a new object
-- that the allocator gave the freed one's memory (gochan.go returned a
-- task that was "already collected").
local gochan = require "gochan"

local T = 5

describe("a box collected by hand", function()
  it("is not what a later push of its object gives", function()
    local c = gochan.chan(3)
    c:send("kept")
    local holder = gochan.chan(1)
    holder:send(c)                             -- a second reference to c's object
    getmetatable(c).__gc(c)
    local again = holder:recv(T)
    assert.equal(1, again:len())
    assert.equal("kept", again:recv(T))
  end)

  it("is not what a new object in its memory gives", function()
    for i = 1, 200 do
      local t = gochan.go(function(n) return n end, i)
      assert.same({ true, i }, { t:join(T) })
      getmetatable(t).__gc(t)
      local ch = gochan.chan()
      assert.equal(0, ch:len())
      getmetatable(ch).__gc(ch)
    end
  end)
end)
