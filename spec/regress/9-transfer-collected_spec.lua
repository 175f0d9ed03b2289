-- An object whose __gc was called by hand, sent to a task (an argument of
-- gochan.go, a value on a channel, inside a table), said "cannot transfer
-- a gochan.chan (at value)", as if such an object could never cross; it
-- says it was already collected, as the methods do
-- (9-collected-arguments_spec.lua), and the channel is as it was.
local gochan = require "gochan"
local helper = require "spec.helper"

describe("an object collected by hand", function()
  it("is refused as collected as an argument of gochan.go", function()
    local ch = helper.collected(gochan.chan(1))
    assert.equal("cannot transfer a gochan.chan: object already collected (at argument #2)",
                 helper.message(function() return gochan.go(print, ch) end))
  end)

  it("is refused as collected on a channel, with the path", function()
    local out = gochan.chan(1)
    local ctx = helper.collected((gochan.with_cancel()))
    local mu = helper.collected(gochan.mutex())
    assert.equal("cannot transfer a gochan.context: object already collected (at value)",
                 helper.message(function() return out:send(ctx, 1) end))
    assert.equal("cannot transfer a gochan.mutex: object already collected (at value.x)",
                 helper.message(function() return out:try_send({ x = mu }) end))
    assert.equal(0, out:len())                 -- nothing was sent
    assert.is_true(out:try_send("ok"))
    assert.equal("ok", out:recv(1))
  end)

  it("is refused as collected for a frozen table", function()
    local f = helper.collected(gochan.freeze({ 1 }))
    assert.equal("cannot transfer a gochan.frozen: object already collected (at value)",
                 helper.message(function() return gochan.chan(1):send(f, 1) end))
  end)

  it("leaves a userdata that is no gochan object refused as before", function()
    local f = io.tmpfile()
    assert.equal("cannot transfer a FILE* (at value)",
                 helper.message(function() return gochan.chan(1):send(f, 1) end))
    f:close()
  end)
end)
