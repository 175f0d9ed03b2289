-- gochan.now/sleep/after/ticker (API.md "Time"); sleep is specified from
-- the main state and from a task.

local gochan = require "gochan"
local helper = require "spec.helper"

describe("gochan.now", function()
  it("returns float seconds", function()
    local t = gochan.now()
    assert.equal("float", math.type(t))
  end)

  it("never goes backwards", function()
    local now, last, backwards = gochan.now, gochan.now(), 0
    for _ = 1, 10000 do
      local t = now()
      if t < last then backwards = backwards + 1 end
      last = t
    end
    assert.equal(0, backwards)
  end)

  it("advances with real time", function()
    local t0 = gochan.now()
    gochan.sleep(0.05)
    local dt = gochan.now() - t0
    assert.is_true(dt >= 0.04 and dt <= 0.05 + helper.SLACK, tostring(dt))
  end)
end)

describe("gochan.sleep", function()
  for _, where in ipairs(helper.PLACES) do
    it("waits about the time asked, from the " .. where, function()
      local r = helper.within(where, function()
        local t0 = gochan.now()
        gochan.sleep(0.05)
        return gochan.now() - t0
      end)
      helper.assert_waited(r[1], 0.05)
    end)
  end

  it("blocks the main state for about the given time", function()
    local dt, res = helper.elapsed(gochan.sleep, 0.05)
    helper.assert_waited(dt, 0.05)
    assert.same({ n = 1, true }, res)     -- it slept the whole time
  end)

  it("returns at once for zero and negative durations", function()
    helper.assert_prompt((helper.elapsed(gochan.sleep, 0)))
    helper.assert_prompt((helper.elapsed(gochan.sleep, -1)))
  end)

  it("rejects a duration that is not a number", function()
    assert.has_error(function() gochan.sleep() end,
      "bad argument #1 to 'sleep' (number expected, got no value)")
    assert.has_error(function() gochan.sleep("x") end,
      "bad argument #1 to 'sleep' (number expected, got string)")
    assert.has_error(function() gochan.sleep(0 / 0) end,
      "bad argument #1 to 'sleep' (number expected, got nan)")
  end)
end)

describe("gochan.after", function()
  for _, where in ipairs(helper.PLACES) do
    it("a recv on it waits for the duration, from the " .. where, function()
      local r = helper.within(where, function()
        local t0 = gochan.now()
        local v, ok = gochan.after(0.05):recv(5)
        return v, ok, gochan.now() - t0, t0
      end)
      assert.is_true(r[2])
      assert.is_true(r[1] >= r[4] + 0.04, ("%f %f"):format(r[4], r[1]))
      helper.assert_waited(r[3], 0.05)
    end)
  end

  it("returns a channel of capacity 1", function()
    local ch = gochan.after(10)
    assert.matches("^gochan%.chan", tostring(ch))
    assert.equal(1, ch:cap())
    assert.equal(0, #ch)
  end)

  it("delivers gochan.now() once, after the duration", function()
    local t0 = gochan.now()
    local ch = gochan.after(0.05)
    assert.same({ n = 2, nil, nil }, table.pack(ch:try_recv()))
    local v, ok = ch:recv(0.05 + helper.SLACK)
    local t1 = gochan.now()
    assert.is_true(ok)
    assert.equal("float", math.type(v))
    assert.is_true(v >= t0 + 0.04 and v <= t1, ("%f %f %f"):format(t0, v, t1))
    helper.assert_waited(t1 - t0, 0.05)
  end)

  it("never sends twice and is never closed", function()
    local ch = gochan.after(0.01)
    assert.is_true(select(2, ch:recv(0.01 + helper.SLACK)))
    assert.same({ n = 2, nil, nil }, table.pack(ch:recv(0.1)))
  end)

  it("keeps the value in the buffer until received", function()
    local ch = gochan.after(0.01)
    local deadline = gochan.now() + 0.01 + helper.SLACK
    while #ch == 0 and gochan.now() < deadline do gochan.sleep(0.001) end
    assert.equal(1, #ch)
    assert.equal(1, #ch)                  -- nothing takes it meanwhile
    assert.equal("number", type((ch:try_recv())))
    assert.equal(0, #ch)
  end)

  it("fires at once for zero and negative durations", function()
    for _, d in ipairs { 0, -1 } do
      local ch = gochan.after(d)
      local dt, res = helper.elapsed(ch.recv, ch, 0.5)
      assert.is_true(res[2])
      helper.assert_prompt(dt)
    end
  end)

  it("fires timers in deadline order, never early", function()
    local t0 = gochan.now()
    local late, soon = gochan.after(0.3), gochan.after(0.03)
    local v1 = soon:recv(0.03 + helper.SLACK)
    local t1 = gochan.now()
    local early = late:try_recv()
    -- 'late' may have fired already if this thread was descheduled for
    -- 0.27 s, but never before its deadline
    assert.is_true(early == nil or early >= t0 + 0.3,
      ("t0=%f soon=%f t1=%f late=%s"):format(t0, v1, t1, tostring(early)))
    local v2 = early or late:recv(0.3 + helper.SLACK)
    assert.is_true(v1 >= t0 + 0.03)
    assert.is_true(v2 >= t0 + 0.3)
    assert.is_true(v2 > v1)
  end)

  it("rejects a duration that is not a number", function()
    assert.has_error(function() gochan.after() end,
      "bad argument #1 to 'after' (number expected, got no value)")
    assert.has_error(function() gochan.after({}) end,
      "bad argument #1 to 'after' (number expected, got table)")
    assert.has_error(function() gochan.after(0 / 0) end,
      "bad argument #1 to 'after' (number expected, got nan)")
  end)
end)

describe("gochan.ticker", function()
  for _, where in ipairs(helper.PLACES) do
    it("a recv on tk.c waits for each tick, from the " .. where, function()
      local r = helper.within(where, function()
        local tk = gochan.ticker(0.02)
        local t0 = gochan.now()
        local v1, ok1 = tk.c:recv(5)
        local v2, ok2 = tk.c:recv(5)
        tk:stop()
        return ok1, ok2, v1 - t0, v2 - t0
      end)
      assert.same({ true, true }, { r[1], r[2] })
      assert.is_true(r[3] >= 0.015 and r[4] >= 0.035 and r[4] > r[3],
        ("%f %f"):format(r[3], r[4]))
    end)
  end

  it("has a channel 'c' of capacity 1", function()
    local tk = gochan.ticker(10)
    assert.equal(1, tk.c:cap())
    assert.is_true(rawequal(tk.c, tk.c))
    assert.matches("^gochan%.ticker", tostring(tk))
    tk:stop()
  end)

  it("ticks every interval with gochan.now()", function()
    local t0 = gochan.now()
    local tk = gochan.ticker(0.02)
    local v1, ok1 = tk.c:recv(0.02 + helper.SLACK)
    local v2, ok2 = tk.c:recv(0.02 + helper.SLACK)
    tk:stop()
    assert.is_true(ok1)
    assert.is_true(ok2)
    assert.equal("float", math.type(v1))
    -- never early; a late tick may be followed closely by the next one
    -- (ticks are scheduled every interval from the start, as in Go)
    assert.is_true(v1 >= t0 + 0.018, ("t0=%f v1=%f"):format(t0, v1))
    assert.is_true(v2 >= t0 + 0.038 and v2 > v1, ("t0=%f v1=%f v2=%f"):format(t0, v1, v2))
  end)

  it("drops ticks that find the buffer full", function()
    local tk = gochan.ticker(0.02)
    gochan.sleep(0.2)
    assert.equal(1, #tk.c)
    tk:stop()
  end)

  it("stops ticking after stop(), without closing the channel", function()
    local tk = gochan.ticker(0.02)
    assert.is_true(select(2, tk.c:recv(0.02 + helper.SLACK)))
    tk:stop()
    tk.c:try_recv()       -- a tick may have landed before stop()
    assert.same({ n = 2, nil, nil }, table.pack(tk.c:recv(0.1)))
  end)

  it("may be stopped twice", function()
    local tk = gochan.ticker(0.02)
    tk:stop()
    tk:stop()
    assert.same({ n = 2, nil, nil }, table.pack(tk.c:recv(0.05)))
  end)

  it("rejects an interval that is not a number", function()
    assert.has_error(function() gochan.ticker() end,
      "bad argument #1 to 'ticker' (number expected, got no value)")
    assert.has_error(function() gochan.ticker("x") end,
      "bad argument #1 to 'ticker' (number expected, got string)")
  end)

  it("rejects a zero, negative or NaN interval", function()
    assert.has_error(function() gochan.ticker(0) end,
      "bad argument #1 to 'ticker' (positive number expected, got number)")
    assert.has_error(function() gochan.ticker(-1) end,
      "bad argument #1 to 'ticker' (positive number expected, got number)")
    assert.has_error(function() gochan.ticker(0 / 0) end,
      "bad argument #1 to 'ticker' (number expected, got nan)")
  end)

  it("stop rejects a bad self", function()
    local tk = gochan.ticker(10)
    assert.has_error(function() tk.stop({}) end,
      "bad argument #1 to 'stop' (gochan.ticker expected, got table)")
    assert.has_error(function() tk.stop(tk.c) end,
      "bad argument #1 to 'stop' (gochan.ticker expected, got gochan.chan)")
    tk:stop()
  end)
end)
