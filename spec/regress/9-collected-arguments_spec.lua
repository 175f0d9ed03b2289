-- An object whose __gc was called by hand and that is then given as an
-- argument (a context where a call takes a timeout or a context, a parent
-- context, the lock of a cond, a frozen table) says it was already
-- collected, as the methods do, not "gochan.context expected, got
-- gochan.context".
local gochan = require "gochan"
local helper = require "spec.helper"

local COLLECTED = "(object already collected)"

describe("a context collected by hand", function()
  local ctx = helper.collected((gochan.with_cancel()))

  it("is refused as collected by every call that takes a context", function()
    local mu, rw = gochan.mutex(), gochan.rwmutex()
    local m2 = gochan.mutex()
    m2:lock()
    local calls = {
      { "bad argument #1 to 'recv' ", function() return gochan.chan():recv(ctx) end },
      { "bad argument #2 to 'send' ", function() return gochan.chan():send(1, ctx) end },
      { "bad argument #1 to 'wait' ", function() return gochan.waitgroup():wait(ctx) end },
      { "bad argument #1 to 'join' ", function() return gochan.go(print):join(ctx) end },
      { "bad argument #2 to 'sleep' ", function() return gochan.sleep(0, ctx) end },
      { "bad argument #2 to 'select' ", function() return gochan.select({ { "recv", gochan.chan() } }, ctx) end },
      { "bad argument #1 to 'select' ", function()
        return gochan.selector({ { "recv", gochan.chan() } }):select(ctx)
      end },
      { "bad argument #1 to 'lock' ", function() return mu:lock(ctx) end },
      { "bad argument #1 to 'lock' ", function() return rw:lock(ctx) end },
      { "bad argument #1 to 'rlock' ", function() return rw:rlock(ctx) end },
      { "bad argument #1 to 'acquire' ", function() return gochan.semaphore(1):acquire(ctx) end },
      { "bad argument #2 to 'acquire' ", function() return gochan.semaphore(1):acquire(1, ctx) end },
      { "bad argument #1 to 'wait' ", function() return gochan.cond(m2):wait(ctx) end },
      { "bad argument #1 to 'range' ", function() return gochan.chan():range(ctx) end },
    }
    for i, c in ipairs(calls) do
      assert.equal(i .. ": " .. c[1] .. COLLECTED, i .. ": " .. helper.message(c[2]))
    end
    m2:unlock()
  end)

  it("is refused as collected as a parent", function()
    assert.equal("bad argument #1 to 'with_timeout' " .. COLLECTED,
                 helper.message(function() return gochan.with_timeout(ctx, 1) end))
    assert.equal("bad argument #1 to 'with_deadline' " .. COLLECTED,
                 helper.message(function() return gochan.with_deadline(ctx, 1) end))
    assert.equal("bad argument #1 to 'with_value' " .. COLLECTED,
                 helper.message(function() return gochan.with_value(ctx, "k", 1) end))
  end)
end)

describe("gochan.cond, given a lock collected by hand", function()
  it("says it was collected", function()
    assert.equal("bad argument #1 to 'cond' " .. COLLECTED,
                 helper.message(function() return gochan.cond(helper.collected(gochan.mutex())) end))
    assert.equal("bad argument #1 to 'cond' " .. COLLECTED,
                 helper.message(function() return gochan.cond(helper.collected(gochan.rwmutex())) end))
  end)

  it("still names the type of what is not a lock", function()
    assert.equal("bad argument #1 to 'cond' (gochan.mutex or gochan.rwmutex expected, got gochan.chan)",
                 helper.message(function() return gochan.cond(helper.collected(gochan.chan())) end))
  end)
end)

describe("a frozen table collected by hand", function()
  it("says it was collected when read or thawed", function()
    local f = helper.collected(gochan.freeze({ 1, x = 2 }))
    assert.equal("bad argument #1 to 'index' " .. COLLECTED, helper.message(function() return f[1] end))
    assert.equal("bad argument #1 to 'len' " .. COLLECTED, helper.message(function() return #f end))
    assert.equal("bad argument #1 to 'thaw' " .. COLLECTED, helper.message(function() return gochan.thaw(f) end))
  end)
end)
