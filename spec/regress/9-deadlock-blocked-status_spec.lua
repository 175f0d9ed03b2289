-- A task blocked in a call that cannot park it (a recv inside
-- coroutine.wrap: the task's thread blocks its worker instead of yielding)
-- is blocked on that call, and gochan.tasks() and the deadlock message say
-- so, as they do for a task that parked. The scenario runs in a subprocess
-- under `timeout`: a deadlock that goes unreported must fail this spec,
-- not hang busted.

local helper = require "spec.helper"

local function run (src)
  return helper.run_lua(src, 20)
end

-- Starts task A (recv in a nested coroutine) and task B (a plain recv,
-- parked) on one channel, then waits (at most 5 s) until gochan.tasks()
-- shows neither running nor runnable, and prints what it shows for each.
local SETUP = [[
local gochan = require "gochan"
local ch = gochan.chan()
local a = gochan.go(function(ch)
  return coroutine.wrap(function() return ch:recv() end)()
end, ch)
local b = gochan.go(function(ch) return ch:recv() end, ch)
local function id (t) return tonumber(tostring(t):match("#(%d+)")) end
local function status (t)
  for _, ti in ipairs(gochan.tasks()) do
    if ti.id == id(t) then return ti end
  end
end
local deadline = gochan.now() + 5
local sa, sb
repeat
  sa, sb = status(a), status(b)
  local settled = sa and sb and sa.status ~= "running" and sa.status ~= "runnable"
                  and sb.status ~= "running" and sb.status ~= "runnable"
  if not settled and gochan.now() < deadline then gochan.sleep(0.001) end
until settled or gochan.now() >= deadline
print("A", sa and sa.status, sa and sa.waiting)
print("B", sb and sb.status, sb and sb.waiting)
]]

describe("a task blocked where it cannot yield", function()
  it("is listed by gochan.tasks() as blocked on its recv", function()
    local out, code = run(SETUP .. [[
      ch:close()
      assert(a:join(5) and b:join(5), "the tasks did not end")
    ]])
    assert.same({
      "A\tblocked\trecv on gochan.chan\nB\tblocked\trecv on gochan.chan\n", 0
    }, { out, code })
  end)

  it("is listed by the deadlock message as blocked on its recv", function()
    local out, code = run(SETUP .. [[
      local ok, err = pcall(ch.recv, gochan.chan())
      assert(not ok, "no deadlock reported")
      local function line (t)
        return err:match("\n\t(gochan%.task #" .. id(t) .. " %([^)]*%))")
      end
      print(line(a))
      print(line(b))
      ch:close()
      assert(a:join(5) and b:join(5), "the tasks did not end")
    ]])
    local ida, idb = 1, 2   -- the first two tasks of a fresh process
    assert.same({
      ("A\tblocked\trecv on gochan.chan\nB\tblocked\trecv on gochan.chan\n" ..
       "gochan.task #%d (blocked: recv on gochan.chan)\n" ..
       "gochan.task #%d (blocked: recv on gochan.chan)\n"):format(ida, idb), 0
    }, { out, code })
  end)
end)
