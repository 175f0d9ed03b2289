-- g:wait returned a task's string error as the bare message, and its
-- traceback went on into the group's own frames (xpcall, gochan.group.run),
-- where API.md says the first failure is "shaped as join gives it": the
-- message followed by the traceback, which ends at the task's function.
-- The task's own join and report gave the traceback of the line in the
-- group's code that raised the failure again.
local gochan = require "gochan"

local T = 5

describe("g:wait's failure", function()
  it("is shaped as join gives the same failure", function()
    local function fail (n) if n == 0 then error("deep") end fail(n - 1) end
    local g = gochan.group()
    local t = g:go(fail, 2)
    local ok, err, tb = g:wait(T)
    local jok, jerr, jtb = gochan.go(fail, 2):join(T)
    assert.same({ jok, jerr, jtb }, { ok, err, tb })
    assert.is_nil(tb:find("group.lua", 1, true))
    assert.same({ jok, jerr, jtb }, { t:join(T) })   -- the task's own join
  end)

  it("keeps a cancel's message alone, as join does", function()
    local g = gochan.group()
    local started = gochan.chan(1)
    local t = g:go(function(s) s:send(true) gochan.chan():recv() end, started)
    assert.is_true((started:recv(T)))
    t:cancel("stop")
    local ok, err, tb = g:wait(T)
    assert.same({ false, "canceled: stop" }, { ok, err })
    assert.matches("^stack traceback:\n", tb)
  end)
end)
