-- A ticker period far below a microsecond is legal (as Go's
-- time.NewTicker(1)): it drops the ticks its reader cannot take, and the
-- timer thread still serves every other timer. The scenario runs in a
-- subprocess under `timeout`: a timer thread that never gives up its lock
-- hangs the process (even its exit), which must fail this spec, not hang
-- busted.

local helper = require "spec.helper"

local function run (src)
  return helper.run_lua(src, 10)
end

describe("gochan.ticker", function()
  it("ticks with a period of a nanosecond, and stops", function()
    local out, code = run([[
      local gochan = require "gochan"
      local tk = gochan.ticker(1e-9)
      local a, b = tk.c:recv(5), tk.c:recv(5)
      assert(a and b and b >= a, "no ticks")
      tk:stop()
      print("stopped")
    ]])
    assert.same({ "stopped\n", 0 }, { out, code })
  end)

  it("leaves other timers working while periods below a microsecond tick", function()
    local out, code = run([[
      local gochan = require "gochan"
      local tks = {}
      for i = 1, 8 do tks[i] = gochan.ticker(i * 1e-10) end
      for i = 1, 8 do assert(tks[i].c:recv(5), "no tick") end
      local t0 = gochan.now()
      local v = gochan.after(0.01):recv(5)
      assert(v, "after did not fire")
      local t = gochan.go(function(s)
        local gochan = require "gochan"
        gochan.sleep(s)
        return "slept"
      end, 0.01)
      assert(select(2, t:join(5)) == "slept", "task sleep failed")
      print("ok", gochan.now() - t0 < 5)
      for i = 1, 8 do tks[i]:stop() end
    ]])
    assert.same({ "ok\ttrue\n", 0 }, { out, code })
  end)

  it("does not keep the process from exiting while it ticks", function()
    local out, code = run([[
      local gochan = require "gochan"
      local tk = gochan.ticker(1e-9)
      tk.c:recv(5); tk.c:recv(5)
      print("exiting")
    ]])
    assert.same({ "exiting\n", 0 }, { out, code })
  end)
end)
