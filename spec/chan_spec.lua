-- Channels (API.md "Channels"). Each blocking method is specified from the
-- main state and from a task ("from the main state" / "from the task",
-- with a task as the other party); the rest run in the main state, where
-- unbuffered semantics are checked through timeouts, try_* and buffered
-- channels.
--
-- Error closures never 'return' the call: a tail call loses the function's
-- name in the message ("bad argument #2 to '?'").

local gochan = require "gochan"
local helper = require "spec.helper"

local T = 5          -- timeout (seconds) for calls that should not wait long

local drain = helper.drain

describe("gochan.chan", function()
  it("makes an unbuffered channel by default", function()
    local ch = gochan.chan()
    assert.equal(0, ch:cap())
    assert.equal(0, ch:len())
    assert.equal(0, #ch)
  end)

  it("makes a channel of the given capacity", function()
    local ch = gochan.chan(3)
    assert.equal(3, ch:cap())
    assert.equal(0, ch:len())
  end)

  it("accepts nil as the default capacity", function()
    assert.equal(0, gochan.chan(nil):cap())
  end)

  it("accepts a float with an exact integer value", function()
    assert.equal(2, gochan.chan(2.0):cap())
  end)

  it("rejects a negative capacity", function()
    assert.has_error(function() gochan.chan(-1) end,
      "bad argument #1 to 'chan' (non-negative integer expected, got number)")
  end)

  it("rejects a fractional capacity", function()
    assert.has_error(function() gochan.chan(1.5) end,
      "bad argument #1 to 'chan' (non-negative integer expected, got number)")
  end)

  it("rejects a NaN or infinite capacity", function()
    assert.has_error(function() gochan.chan(0 / 0) end,
      "bad argument #1 to 'chan' (non-negative integer expected, got number)")
    assert.has_error(function() gochan.chan(math.huge) end,
      "bad argument #1 to 'chan' (non-negative integer expected, got number)")
  end)

  it("rejects a capacity too large to allocate", function()
    assert.has_error(function() gochan.chan(math.maxinteger) end,
      "bad argument #1 to 'chan' (capacity too large)")
  end)

  it("rejects a capacity that is not a number", function()
    assert.has_error(function() gochan.chan("x") end,
      "bad argument #1 to 'chan' (non-negative integer expected, got string)")
    assert.has_error(function() gochan.chan({}) end,
      "bad argument #1 to 'chan' (non-negative integer expected, got table)")
  end)
end)

describe("ch:send()", function()
  for _, where in ipairs(helper.PLACES) do
    describe("from the " .. where, function()
      it("hands the value to a receiving task", function()
        local ch = gochan.chan()
        local peer = gochan.go(function(c) return c:recv(T) end, ch)
        assert.same({ n = 1, true }, helper.within(where, function(c)
          return c:send("x", T)
        end, ch))
        assert.same({ true, "x", true }, { peer:join(T) })
      end)

      it("returns false after its timeout, the value not sent", function()
        local ch = gochan.chan()
        local r = helper.within(where, function(c)
          local t0 = gochan.now()
          local sent = c:send("x", 0.05)
          return sent, gochan.now() - t0
        end, ch)
        assert.is_false(r[1])
        helper.assert_waited(r[2], 0.05)
        assert.same({ n = 2, nil, nil }, table.pack(ch:try_recv()))
      end)

      it("raises when the channel is closed while it waits", function()
        local ch = gochan.chan()
        local closer = gochan.go(function(c) c:close() end, ch)
        local r = helper.within(where, function(c)
          return pcall(c.send, c, "x", T)
        end, ch)
        assert.is_false(r[1])
        assert.matches("send on closed channel", r[2], 1, true)
        assert.is_true((closer:join(T)))
      end)
    end)
  end

  it("buffers values up to the capacity, then reports a timeout", function()
    local ch = gochan.chan(2)
    assert.is_true(ch:send(1, 0.5))
    assert.is_true(ch:send(2, 0.5))
    assert.equal(2, #ch)
    local dt, res = helper.elapsed(ch.send, ch, 3, 0.05)
    assert.same({ n = 1, false }, res)
    helper.assert_waited(dt, 0.05)
    assert.same({ 1, 2 }, drain(ch))
  end)

  it("returns false at once with a zero timeout on a full channel", function()
    local ch = gochan.chan(1)
    assert.is_true(ch:send("a", 0))
    local dt, res = helper.elapsed(ch.send, ch, "b", 0)
    assert.same({ n = 1, false }, res)
    helper.assert_prompt(dt)
    assert.same({ "a" }, drain(ch))
  end)

  it("rejects a negative timeout and leaves the channel unchanged", function()
    local ch = gochan.chan(1)
    assert.has_error(function() ch:send("a", -1) end,
      "bad argument #2 to 'send' (non-negative number expected, got number)")
    assert.has_error(function() ch:send("a", -math.huge) end,
      "bad argument #2 to 'send' (non-negative number expected, got number)")
    assert.equal(0, #ch)
  end)

  -- task spec later: the send completes when a receiving task takes it.
  it("times out on an unbuffered channel with no receiver", function()
    local ch = gochan.chan()
    local dt, res = helper.elapsed(ch.send, ch, "x", 0.05)
    assert.same({ n = 1, false }, res)
    helper.assert_waited(dt, 0.05)
    assert.equal(0, #ch)
    assert.same({ nil, nil }, { ch:try_recv() })
  end)

  it("sends nil when called with no value", function()
    local ch = gochan.chan(1)
    assert.is_true(ch:send())
    assert.equal(1, #ch)
    assert.same({ n = 2, nil, true }, table.pack(ch:recv(0.5)))
  end)

  it("keeps values in FIFO order", function()
    local ch = gochan.chan(100)
    for i = 1, 100 do assert.is_true(ch:send(i, 0.5)) end
    for i = 1, 100 do
      local v, ok = ch:recv(0.5)
      assert.equal(i, v)
      assert.is_true(ok)
    end
  end)

  it("keeps FIFO order across many wrap-arounds of the buffer", function()
    local ch = gochan.chan(3)
    local nextin, nextout = 1, 1
    for _ = 1, 50 do
      while ch:try_send(nextin) do nextin = nextin + 1 end
      assert.equal(3, #ch)
      for _ = 1, 2 do
        assert.equal(nextout, (ch:recv(0.5)))
        nextout = nextout + 1
      end
    end
  end)

  -- The full set of values that cross is transfer_spec's; these are the
  -- channel's own guarantee that a value comes out as it went in.
  it("delivers nil, booleans, integers, floats and strings unchanged", function()
    local long = ("0123456789"):rep(100) .. "\0tail"
    local values = { n = 8, nil, true, false, 42, 42.0, "", "short\0", long }
    local ch = gochan.chan(values.n)
    for i = 1, values.n do assert.is_true(ch:send(values[i], 0.5)) end
    for i = 1, values.n do
      local v, ok = ch:recv(0.5)
      assert.is_true(ok)
      assert.equal(values[i], v)
      assert.equal(math.type(values[i]), math.type(v))
    end
  end)

  it("raises 'send on closed channel' and leaves the buffer as it was", function()
    local ch = gochan.chan(2)
    ch:send("kept", 0.5)
    ch:close()
    assert.has_error(function() ch:send("x", 0.5) end, "send on closed channel")
    assert.has_error(function() ch:send("x") end, "send on closed channel")
    assert.equal(1, #ch)
    assert.same({ "kept", true }, { ch:recv(0.5) })
    assert.same({ nil, false }, { ch:recv(0.5) })
  end)

  it("raises on a closed unbuffered channel without waiting", function()
    local ch = gochan.chan()
    ch:close()
    local t0 = gochan.now()
    assert.has_error(function() ch:send(1, 0.5) end, "send on closed channel")
    helper.assert_prompt(gochan.now() - t0)
  end)

  -- task spec later: a sender blocked on a full channel raises when another
  -- task closes it.

  it("refuses a coroutine and leaves the channel unchanged", function()
    local ch = gochan.chan(2)
    ch:send("before", 0.5)
    assert.has_error(function() ch:send(coroutine.create(print), 0.5) end,
      "cannot transfer a thread (at value)")
    assert.equal(1, #ch)
    assert.same({ "before" }, drain(ch))
  end)

  -- io.stdout would cross by name (a field of package.loaded.io); a file
  -- of io.tmpfile() is a foreign userdata reachable from nowhere.
  it("refuses a full userdata that is not from gochan", function()
    local ch = gochan.chan(1)
    local f = assert(io.tmpfile())
    assert.has_error(function() ch:send(f, 0.5) end,
      "cannot transfer a FILE* (at value)")
    f:close()
    assert.equal(0, #ch)
    assert.is_true(ch:try_send("still works"))
  end)

  it("refuses a value even when the channel is full", function()
    local ch = gochan.chan(1)
    ch:send(1)
    assert.has_error(function() ch:send(coroutine.create(print), 0) end,
      "cannot transfer a thread (at value)")
    assert.same({ 1 }, drain(ch))
  end)

  it("rejects a timeout that is not a number", function()
    local ch = gochan.chan(1)
    assert.has_error(function() ch:send(1, "x") end,
      "bad argument #2 to 'send' (number or gochan.context expected, got string)")
    assert.has_error(function() ch:send(1, {}) end,
      "bad argument #2 to 'send' (number or gochan.context expected, got table)")
    assert.equal(0, #ch)
  end)

  it("rejects a NaN timeout", function()
    local ch = gochan.chan(1)
    assert.has_error(function() ch:send(1, 0 / 0) end,
      "bad argument #2 to 'send' (number expected, got nan)")
    assert.equal(0, #ch)
  end)

  it("rejects a bad self", function()
    local ch = gochan.chan(1)
    assert.has_error(function() ch.send({}, 1) end,
      "bad argument #1 to 'send' (gochan.chan expected, got table)")
    local fake = { send = ch.send }
    assert.has_error(function() fake:send(1) end,
      "calling 'send' on bad self (gochan.chan expected, got table)")
    assert.has_error(function() ch.send(gochan.mutex(), 1) end,
      "bad argument #1 to 'send' (gochan.chan expected, got gochan.mutex)")
    assert.equal(0, #ch)
  end)
end)

describe("ch:recv()", function()
  for _, where in ipairs(helper.PLACES) do
    describe("from the " .. where, function()
      it("receives what a task sends", function()
        local ch = gochan.chan()
        local peer = gochan.go(function(c) return c:send(42, T) end, ch)
        assert.same({ n = 2, 42, true }, helper.within(where, function(c)
          return c:recv(T)
        end, ch))
        assert.same({ true, true }, { peer:join(T) })
      end)

      it("returns nil, nil after its timeout", function()
        local ch = gochan.chan()
        local r = helper.within(where, function(c)
          local t0 = gochan.now()
          local v, ok = c:recv(0.05)
          return v, ok, gochan.now() - t0
        end, ch)
        assert.is_nil(r[1])
        assert.is_nil(r[2])
        helper.assert_waited(r[3], 0.05)
      end)

      it("returns nil, false when the channel is closed while it waits", function()
        local ch = gochan.chan()
        local closer = gochan.go(function(c) c:close() end, ch)
        assert.same({ n = 2, nil, false }, helper.within(where, function(c)
          return c:recv(T)
        end, ch))
        assert.is_true((closer:join(T)))
      end)
    end)
  end

  it("returns a buffered value with true", function()
    local ch = gochan.chan(1)
    ch:send("v")
    assert.same({ n = 2, "v", true }, table.pack(ch:recv(0.5)))
    assert.equal(0, #ch)
  end)

  it("returns nil, nil at once with a zero timeout on an empty channel", function()
    local ch = gochan.chan(1)
    local dt, res = helper.elapsed(ch.recv, ch, 0)
    assert.same({ n = 2, nil, nil }, res)
    helper.assert_prompt(dt)
  end)

  it("returns nil, nil after the timeout on an empty channel", function()
    local ch = gochan.chan(1)
    local dt, res = helper.elapsed(ch.recv, ch, 0.05)
    assert.same({ n = 2, nil, nil }, res)
    helper.assert_waited(dt, 0.05)
  end)

  -- task spec later: the value of a sending task arrives on an unbuffered
  -- channel; a receiver blocked on an empty channel wakes with nil, false
  -- when another task closes it.
  it("times out on an unbuffered channel with no sender", function()
    local ch = gochan.chan()
    local dt, res = helper.elapsed(ch.recv, ch, 0.05)
    assert.same({ n = 2, nil, nil }, res)
    helper.assert_waited(dt, 0.05)
  end)

  it("drains buffered values after close, then returns nil, false", function()
    local ch = gochan.chan(3)
    ch:send(1); ch:send(2)
    ch:close()
    assert.equal(2, #ch)
    assert.same({ 1, true }, { ch:recv(0.5) })
    assert.same({ 2, true }, { ch:recv(0.5) })
    assert.same({ n = 2, nil, false }, table.pack(ch:recv(0.5)))
    assert.same({ n = 2, nil, false }, table.pack(ch:recv(0.5)))
  end)

  it("returns nil, false at once on a closed channel, even without a timeout", function()
    local ch = gochan.chan()
    ch:close()
    local dt, res = helper.elapsed(ch.recv, ch)
    assert.same({ n = 2, nil, false }, res)
    helper.assert_prompt(dt)
  end)

  it("tells a received nil from a closed channel", function()
    local ch = gochan.chan(1)
    ch:send(nil)
    ch:close()
    assert.same({ n = 2, nil, true }, table.pack(ch:recv(0.5)))
    assert.same({ n = 2, nil, false }, table.pack(ch:recv(0.5)))
  end)

  it("rejects a timeout that is not a number", function()
    local ch = gochan.chan(1)
    ch:send("kept")
    assert.has_error(function() ch:recv("x") end,
      "bad argument #1 to 'recv' (number or gochan.context expected, got string)")
    assert.has_error(function() ch:recv(true) end,
      "bad argument #1 to 'recv' (number or gochan.context expected, got boolean)")
    assert.same({ "kept" }, drain(ch))
  end)

  it("rejects a negative or NaN timeout and keeps the buffer", function()
    local ch = gochan.chan(1)
    ch:send("kept")
    assert.has_error(function() ch:recv(-0.5) end,
      "bad argument #1 to 'recv' (non-negative number expected, got number)")
    assert.has_error(function() ch:recv(0 / 0) end,
      "bad argument #1 to 'recv' (number expected, got nan)")
    assert.same({ "kept" }, drain(ch))
  end)

  it("rejects a bad self", function()
    local ch = gochan.chan(1)
    assert.has_error(function() ch.recv(42) end,
      "bad argument #1 to 'recv' (gochan.chan expected, got number)")
    assert.has_error(function() ch.recv() end,
      "bad argument #1 to 'recv' (gochan.chan expected, got no value)")
  end)
end)

describe("ch:try_send()", function()
  it("returns true when there is room in the buffer", function()
    local ch = gochan.chan(1)
    assert.is_true(ch:try_send("a"))
    assert.equal(1, #ch)
  end)

  it("returns false without waiting when the buffer is full", function()
    local ch = gochan.chan(1)
    assert.is_true(ch:try_send("a"))
    local dt, res = helper.elapsed(ch.try_send, ch, "b")
    assert.same({ n = 1, false }, res)
    helper.assert_prompt(dt)
    assert.same({ "a" }, drain(ch))
  end)

  -- task spec later: true when a task is blocked receiving.
  it("returns false on an unbuffered channel with no receiver", function()
    local ch = gochan.chan()
    assert.is_false(ch:try_send("a"))
    assert.equal(0, #ch)
  end)

  it("sends nil when called with no value", function()
    local ch = gochan.chan(1)
    assert.is_true(ch:try_send())
    assert.same({ n = 2, nil, true }, table.pack(ch:try_recv()))
  end)

  it("raises 'send on closed channel' on a closed channel", function()
    local ch = gochan.chan(2)
    ch:send(1)
    ch:close()
    assert.has_error(function() ch:try_send(2) end, "send on closed channel")
    assert.same({ 1 }, drain(ch))
  end)

  it("refuses a value that cannot cross and leaves the channel unchanged", function()
    local ch = gochan.chan(2)
    ch:send(1)
    assert.has_error(function() ch:try_send(coroutine.create(print)) end,
      "cannot transfer a thread (at value)")
    assert.same({ 1 }, drain(ch))
  end)

  it("rejects a bad self", function()
    local ch = gochan.chan(1)
    assert.has_error(function() ch.try_send("x", 1) end,
      "bad argument #1 to 'try_send' (gochan.chan expected, got string)")
  end)
end)

describe("ch:try_recv()", function()
  it("returns a buffered value with true", function()
    local ch = gochan.chan(1)
    ch:send(7)
    assert.same({ n = 2, 7, true }, table.pack(ch:try_recv()))
  end)

  it("returns nil, nil when the channel is empty", function()
    local ch = gochan.chan(1)
    assert.same({ n = 2, nil, nil }, table.pack(ch:try_recv()))
  end)

  -- task spec later: takes the value of a task blocked sending.
  it("returns nil, nil on an unbuffered channel with no sender", function()
    assert.same({ n = 2, nil, nil }, table.pack(gochan.chan():try_recv()))
  end)

  it("returns nil, false once the channel is closed and drained", function()
    local ch = gochan.chan(1)
    ch:send(1)
    ch:close()
    assert.same({ n = 2, 1, true }, table.pack(ch:try_recv()))
    assert.same({ n = 2, nil, false }, table.pack(ch:try_recv()))
  end)

  it("rejects a bad self", function()
    local ch = gochan.chan(1)
    assert.has_error(function() ch.try_recv({}) end,
      "bad argument #1 to 'try_recv' (gochan.chan expected, got table)")
  end)
end)

describe("ch:close()", function()
  it("closes the channel", function()
    local ch = gochan.chan()
    ch:close()
    assert.same({ n = 2, nil, false }, table.pack(ch:try_recv()))
  end)

  it("raises 'close of closed channel' the second time and keeps the buffer", function()
    local ch = gochan.chan(2)
    ch:send("a")
    ch:close()
    assert.has_error(function() ch:close() end, "close of closed channel")
    assert.equal(1, #ch)
    assert.same({ "a", true }, { ch:recv(0.5) })
    assert.same({ n = 2, nil, false }, table.pack(ch:recv(0.5)))
  end)

  it("keeps the capacity and the buffered values", function()
    local ch = gochan.chan(4)
    ch:send(1); ch:send(2); ch:send(3)
    ch:close()
    assert.equal(4, ch:cap())
    assert.equal(3, ch:len())
    assert.same({ 1, 2, 3 }, drain(ch))
    assert.equal(0, #ch)
  end)

  -- task spec later: wakes every blocked receiver with nil, false and makes
  -- every blocked sender raise.

  it("rejects a bad self", function()
    local ch = gochan.chan()
    assert.has_error(function() ch.close(gochan.waitgroup()) end,
      "bad argument #1 to 'close' (gochan.chan expected, got gochan.waitgroup)")
    assert.same({ n = 2, nil, nil }, table.pack(ch:try_recv()))
  end)
end)

describe("ch:range()", function()
  for _, where in ipairs(helper.PLACES) do
    it("takes every value a task sends until the close, from the " .. where, function()
      local ch = gochan.chan()
      local peer = gochan.go(function(c)
        for i = 1, 3 do c:send(i, T) end
        c:close()
      end, ch)
      assert.same({ n = 1, { 1, 2, 3 } }, helper.within(where, function(c)
        local got = {}
        for v in c:range() do got[#got + 1] = v end
        return got
      end, ch))
      assert.is_true((peer:join(T)))
    end)
  end

  it("yields the buffered values in order until closed and drained", function()
    local ch = gochan.chan(5)
    for i = 1, 5 do ch:send(i * 10) end
    ch:close()
    local got = {}
    for v in ch:range() do got[#got + 1] = v end
    assert.same({ 10, 20, 30, 40, 50 }, got)
    assert.equal(0, #ch)
  end)

  it("ends at once on a closed, empty channel", function()
    local ch = gochan.chan()
    ch:close()
    local n = 0
    for _ in ch:range() do n = n + 1 end
    assert.equal(0, n)
  end)

  it("raises 'range received nil' and leaves the values after it", function()
    local ch = gochan.chan(3)
    ch:send(1); ch:send(nil); ch:send(2)
    ch:close()
    local got = {}
    assert.has_error(function()
      for v in ch:range() do got[#got + 1] = v end
    end, "range received nil")
    assert.same({ 1 }, got)
    assert.same({ 2, true }, { ch:recv(0.5) })
  end)

  -- task spec later: range over a channel fed and then closed by a task
  -- (in the main state alone an open channel would block range forever).
end)

describe("ch:len(), #ch and ch:cap()", function()
  it("count the buffered values and report the capacity", function()
    local ch = gochan.chan(3)
    assert.equal(0, ch:len())
    ch:send("a")
    assert.equal(1, ch:len())
    assert.equal(1, #ch)
    ch:send("b")
    assert.equal(2, #ch)
    ch:recv(0.5)
    assert.equal(1, #ch)
    assert.equal(3, ch:cap())
  end)

  it("return integers", function()
    local ch = gochan.chan(2)
    ch:send(1)
    assert.equal("integer", math.type(ch:len()))
    assert.equal("integer", math.type(#ch))
    assert.equal("integer", math.type(ch:cap()))
  end)

  it("reject a bad self", function()
    local ch = gochan.chan()
    assert.has_error(function() ch.len("x") end,
      "bad argument #1 to 'len' (gochan.chan expected, got string)")
    assert.has_error(function() ch.cap(nil) end,
      "bad argument #1 to 'cap' (gochan.chan expected, got nil)")
  end)
end)

describe("tostring(ch)", function()
  it("shows the capacity and the length", function()
    local ch = gochan.chan(4)
    ch:send(1)
    assert.matches("^gochan%.chan%(cap=4, len=1%)", tostring(ch))
    assert.matches("^gochan%.chan%(cap=0, len=0%)", tostring(gochan.chan()))
  end)

  it("tells two channels apart", function()
    local a, b = gochan.chan(), gochan.chan()
    assert.not_equal(tostring(a), tostring(b))
    assert.equal(tostring(a), tostring(a))
  end)
end)
