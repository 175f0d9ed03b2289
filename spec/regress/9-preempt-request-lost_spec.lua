-- A request to preempt a task's slice could be lost, and with it the slice's
-- preemption and any cancel of the task until it blocked or ended: the
-- monitor signals a long slice once, and the signal did nothing when it came
-- while the slice was still building the task's state and decoding its
-- arguments (no coroutine to set the hook on yet), or when the hook ran
-- where the task could not yield (a comparator of table.sort). Each case
-- below spun until its deadline (8 s) with the cancel unanswered.
local helper = require "spec.helper"

local PRELUDE = [[
  local gochan = require "gochan"
  local function cancel_when_running (t)
    local deadline = gochan.now() + 5
    repeat gochan.sleep(0.01)
    until gochan.tasks()[1].status == "running" or gochan.now() > deadline
    gochan.sleep(0.1)                      -- well past the first slice's 10 ms
    local t0 = gochan.now()
    t:cancel()
    local ok, err = t:join(20)
    print(ok, err, gochan.now() - t0 < 4)
  end
]]

describe("a task's slice", function()
  it("is preempted (and sees a cancel) after a start that took long #subprocess", function()
    local out, code = helper.run_lua(PRELUDE .. [[
      local big = {}
      for i = 1, 1000000 do big[i] = i end  -- decoded in the task's first slice
      cancel_when_running(gochan.go(function(b, deadline)
        while gochan.now() < deadline do end
        return "ran out", #b
      end, big, gochan.now() + 8))
    ]], 40, { GOCHAN_WORKERS = "1" })
    assert.equal(0, code, out)
    assert.equal("false\tcanceled\ttrue\n", out)
  end)

  it("is preempted (and sees a cancel) when it was where it cannot yield #subprocess", function()
    local out, code = helper.run_lua(PRELUDE .. [[
      cancel_when_running(gochan.go(function(deadline)
        local function slow (a, b)           -- nearly all the time is in here
          local x = 0
          for i = 1, 20000 do x = x + i end
          return a < b
        end
        while gochan.now() < deadline do table.sort({ 3, 1, 2 }, slow) end
        return "ran out"
      end, gochan.now() + 8))
    ]], 40, { GOCHAN_WORKERS = "1" })
    assert.equal(0, code, out)
    assert.equal("false\tcanceled\ttrue\n", out)
  end)
end)
