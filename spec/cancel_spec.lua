-- Task cancellation (API.md "Task cancellation"): task:cancel raises
-- "canceled" in the task at its current or next blocking call, or at its
-- next preemption point; gochan.context() gives a task its lifetime as a
-- context.

local gochan = require "gochan"
local helper = require "spec.helper"

local T = 5          -- timeout (seconds) for calls that should not wait long

-- Start fn(...) as a task and return it once it is blocked.
local function blocked (fn, ...)
  local t = gochan.go(fn, ...)
  helper.wait_blocked(t)
  return t
end

describe("task:cancel()", function()
  it("raises 'canceled' in the call the task is blocked in", function()
    local t = blocked(function(ch) return ch:recv() end, gochan.chan())
    t:cancel()
    local ok, err, tb = t:join(T)
    assert.is_false(ok)
    assert.equal("canceled", err)
    assert.matches("^stack traceback:", tb)
    assert.equal("canceled", t:status())
    assert.matches("%(canceled%)$", tostring(t))
  end)

  it("adds tostring(cause) to the message, without a position", function()
    local t = blocked(function(ch) return ch:recv() end, gochan.chan())
    t:cancel(setmetatable({}, { __tostring = function() return "bye" end }))
    assert.same({ false, "canceled: bye" }, { (t:join(T)), (select(2, t:join(T))) })
    local u = blocked(function(ch) return ch:recv() end, gochan.chan())
    u:cancel(42)
    assert.equal("canceled: 42", select(2, u:join(T)))
  end)

  it("reaches every kind of blocking call", function()
    local mu = gochan.mutex()
    mu:lock()
    local wg = gochan.waitgroup()
    wg:add(1)
    local ch = gochan.chan()
    local other = gochan.go(function(c) return c:recv(5) end, gochan.chan())
    local calls = {
      function(c) return c:send(1) end,
      function(c) return c:recv(60) end,
      function(c) for _ in c:range() do end end,
      function(c) return gochan.select { { "recv", c } } end,
      function() return gochan.sleep(60) end,
      function(_, m) return m:lock() end,
      function(_, _, w) return w:wait() end,
      function(_, _, _, o) return o:join() end,
      function(c) return c:recv(gochan.with_cancel()) end,
      function(c)                     -- a park of the thread: nested coroutine
        return coroutine.wrap(function() return c:recv() end)()
      end,
    }
    for i, fn in ipairs(calls) do
      local t = blocked(fn, ch, mu, wg, other)
      t:cancel()
      assert.same({ false, "canceled" }, { (t:join(T)), (select(2, t:join(T))) },
                  "call " .. i)
    end
    mu:unlock()
    wg:done()
    other:cancel()
    other:join(T)
  end)

  it("stops a task that computes without blocking", function()
    -- (it allocates as it computes: under ThreadSanitizer a signal, the
    -- preemption request, reaches a thread only at a call TSan intercepts)
    local t = gochan.go(function()
      local stop, junk = gochan.now() + 30, {}
      while gochan.now() < stop do junk[#junk % 64 + 1] = {} end
      return #junk
    end)
    t:cancel()
    local t0 = gochan.now()
    assert.same({ false, "canceled" }, { (t:join(T)), (select(2, t:join(T))) })
    assert.is_true(gochan.now() - t0 < 2)
  end)

  it("raises even when the call could complete at once", function()
    local ch = gochan.chan(1)
    local t = gochan.go(function(c)
      local me = c:recv(5)
      me:cancel()
      c:send("x", 0)                  -- room in the buffer, but canceled
      return "not reached"
    end, ch)
    ch:send(t)
    assert.equal("canceled", select(2, t:join(T)))   -- a task may cancel itself
    assert.equal(0, #ch)
  end)

  it("lets pcall catch it, but the next blocking call raises again", function()
    local ch = gochan.chan(1)
    local t = blocked(function(c)
      local ok, err = pcall(c.recv, c)
      local again = table.pack(pcall(c.recv, c, 0.01))
      return ok, err, again[1], again[2], c:try_send(1), #c
    end, ch)
    t:cancel()
    assert.same({ true, false, "canceled", false, "canceled", true, 1 },
                { t:join(T) })
    assert.equal("done", t:status())   -- it returned normally
  end)

  it("does not raise in try_*, close, len or a select with default", function()
    local t = blocked(function(c)
      local ok = pcall(c.recv, c)
      local d = gochan.chan(1)
      d:try_send(1)
      local r = { ok, d:try_recv(), #d,
                  gochan.select { { "recv", d }, default = true } }
      d:close()
      return table.unpack(r)
    end, gochan.chan())
    t:cancel()
    assert.same({ true, false, 1, 0 }, { t:join(T) })  -- no raise in any
  end)

  it("runs to-be-closed variables as the error unwinds the task", function()
    local log = gochan.chan(1)
    local t = blocked(function(l, c)
      local _ <close> = gochan.defer(function() l:try_send("closed") end)
      return c:recv()
    end, log, gochan.chan())
    t:cancel()
    assert.is_false((t:join(T)))
    assert.equal("closed", (log:recv(0)))
  end)

  it("meets a cancel that came before the task's first blocking call", function()
    local t = gochan.go(function(c) return c:recv(5) end, gochan.chan())
    t:cancel()
    assert.same({ false, "canceled" }, { (t:join(T)), (select(2, t:join(T))) })
  end)

  it("does nothing to a task that has ended, or a second time", function()
    local t = gochan.go(function() return 1 end)
    assert.same({ true, 1 }, { t:join(T) })
    t:cancel()
    assert.equal("done", t:status())
    local u = blocked(function(c) return c:recv() end, gochan.chan())
    u:cancel("first")
    u:cancel("second")
    assert.equal("canceled: first", select(2, u:join(T)))
  end)
end)

describe("gochan.context()", function()
  it("is background in the main state", function()
    assert.is_true(rawequal(gochan.background(), gochan.context()))
  end)

  it("in a task is canceled when the task is canceled", function()
    local got = gochan.chan(1)
    local t = gochan.go(function(g, c)
      local ctx = gochan.context()
      assert(rawequal(ctx, gochan.context()))
      g:send(ctx)
      return c:recv()
    end, got, gochan.chan())
    local ctx = got:recv(T)
    helper.wait_blocked(t)
    assert.is_nil(ctx:err())
    t:cancel()
    t:join(T)
    assert.equal("context canceled", ctx:err())
  end)

  it("in a task is canceled when the task ends", function()
    local t = gochan.go(function() return gochan.context() end)
    local ok, ctx = t:join(T)
    assert.is_true(ok)
    assert.equal("context canceled", ctx:err())
  end)

  -- (The task does not catch its cancel and go on: code after a caught
  -- cancel meets it again at its next preemption point, which a loaded
  -- machine under collector stress can reach before the task returns.)
  it("passes a task's lifetime on to the tasks it starts", function()
    local got = gochan.chan(1)
    local t = gochan.go(function(c, g)
      g:send(gochan.go(function(x, ch) return ch:recv(x) end, gochan.context(), c))
      return c:recv()
    end, gochan.chan(), got)
    local child = got:recv(T)
    helper.wait_blocked(child, "recv on gochan.chan")
    helper.wait_blocked(t, "recv on gochan.chan")
    t:cancel()
    assert.same({ false, "canceled" }, { (t:join(T)), (select(2, t:join(T))) })
    assert.same({ true, nil, nil, "context canceled" }, { child:join(T) })
  end)
end)
