-- A task of a group that failed in a way the group's bookkeeping did not
-- expect left the group waiting forever: a task canceled by task:cancel()
-- (its bookkeeping made a blocking call, which in a canceled task raises
-- again, so the task never counted itself done), and one whose error value
-- cannot cross between states (recording it raised, and the group's record
-- was lost with it: every later go, try_go, limit and wait waited for it).
-- Such a failure reaches g:wait as join gives it, and the group goes on.
local gochan = require "gochan"
local helper = require "spec.helper"

local T = 5
local CANNOT_CROSS = "(error object is a thread value that cannot cross: "
                     .. "cannot transfer a thread (at error))"

describe("a group whose task", function()
  it("is canceled while it blocks fails the group with the cancel error", function()
    local g, gctx = gochan.group()
    local t = g:go(function() gochan.chan():recv() end)
    helper.wait_blocked(t)
    t:cancel("stop")
    local ok, err = g:wait(T)
    assert.same({ false, "canceled: stop" }, { ok, err })
    assert.equal("canceled: stop", gctx:cause())
    assert.equal(false, (t:join(T)))
  end)

  it("is canceled while it computes fails the group with the cancel error", function()
    local g = gochan.group()
    local started = gochan.chan(1)
    local t = g:go(function(s) s:send(true) while true do end end, started)
    assert.is_true((started:recv(T)))
    t:cancel()
    local ok, err = g:wait(T)
    assert.same({ false, "canceled" }, { ok, err })
  end)

  it("raises a value that cannot cross reports it as join does, and the group goes on", function()
    local g, gctx = gochan.group()
    local t = g:go(function() error(coroutine.create(print)) end)
    local ok, err, tb = g:wait(T)
    assert.same({ false, CANNOT_CROSS .. "\n" .. tb }, { ok, err })
    assert.matches("^stack traceback:\n", tb)
    assert.equal(CANNOT_CROSS, gctx:cause())
    local _, jerr = t:join(T)
    assert.equal(CANNOT_CROSS, (jerr:gsub("\n.*", "")))
    -- the group's own record is intact: every method still answers
    local t2 = g:try_go(function() return "after" end)
    assert.same({ true, "after" }, { t2:join(T) })
    g:limit(2)
    local again, err2 = g:wait(T)
    assert.same({ false, CANNOT_CROSS .. "\n" .. tb }, { again, err2 })
  end)
end)
