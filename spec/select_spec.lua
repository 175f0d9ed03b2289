-- gochan.select from the main state (API.md "select"). Readiness comes
-- from buffered and closed channels and timers; selects woken by another
-- task are in task_spec.lua, and exactly-one-fires under contention in the
-- C tests (tests/test_select.c, tests/test_stress.c).

local gochan = require "gochan"
local helper = require "spec.helper"

local T = 5          -- timeout (seconds) for calls that should not wait long

local drain = helper.drain

describe("gochan.select", function()
  for _, where in ipairs(helper.PLACES) do
    describe("from the " .. where, function()
      it("waits for a task's send on a recv case", function()
        local ch = gochan.chan()
        local peer = gochan.go(function(c) return c:send("v", T) end, ch)
        assert.same({ n = 3, 1, "v", true }, helper.within(where, function(c)
          return gochan.select { { "recv", c }, { "recv", gochan.after(T) } }
        end, ch))
        assert.same({ true, true }, { peer:join(T) })
      end)

      it("waits for a task's receive on a send case", function()
        local ch = gochan.chan()
        local peer = gochan.go(function(c) return c:recv(T) end, ch)
        assert.same({ n = 1, 1 }, helper.within(where, function(c)
          return gochan.select { { "send", c, "w" }, { "recv", gochan.after(T) } }
        end, ch))
        assert.same({ true, "w", true }, { peer:join(T) })
      end)

      it("takes the timer's case when nothing else is ready", function()
        local ch = gochan.chan()
        local r = helper.within(where, function(c)
          local t0 = gochan.now()
          local i = gochan.select { { "send", c, "w" }, { "recv", gochan.after(0.05) } }
          return i, gochan.now() - t0
        end, ch)
        assert.equal(2, r[1])
        helper.assert_waited(r[2], 0.05)
        assert.same({ n = 2, nil, nil }, table.pack(ch:try_recv()))
      end)
    end)
  end

  describe("recv cases", function()
    it("returns the index, the value and true", function()
      local a, b = gochan.chan(1), gochan.chan(1)
      b:send("hello")
      assert.same({ n = 3, 2, "hello", true },
        table.pack(gochan.select { { "recv", a }, { "recv", b } }))
      assert.equal(0, #b)
    end)

    it("receives a nil value as nil, true", function()
      local a = gochan.chan(1)
      a:send(nil)
      assert.same({ n = 3, 1, nil, true },
        table.pack(gochan.select { { "recv", a } }))
    end)

    it("is ready on a closed, drained channel and yields nil, false", function()
      local a, b = gochan.chan(1), gochan.chan(1)
      a:close()
      assert.same({ n = 3, 1, nil, false },
        table.pack(gochan.select { { "recv", a }, { "recv", b }, default = true }))
    end)

    it("takes exactly one value from one channel", function()
      local a, b = gochan.chan(2), gochan.chan(2)
      a:send(1); b:send(2)
      gochan.select { { "recv", a }, { "recv", b } }
      assert.equal(1, #a + #b)
    end)
  end)

  describe("send cases", function()
    it("returns the index and delivers the value", function()
      local a, b = gochan.chan(), gochan.chan(1)
      assert.same({ n = 1, 2 },
        table.pack(gochan.select { { "send", a, "x" }, { "send", b, "y" } }))
      assert.same({ "y" }, drain(b))
    end)

    it("sends nil when the value is left out", function()
      local a = gochan.chan(1)
      assert.equal(1, gochan.select { { "send", a } })
      assert.same({ n = 2, nil, true }, table.pack(a:try_recv()))
    end)

    it("raises 'send on closed channel' when the case is chosen", function()
      local a = gochan.chan(1)
      a:close()
      assert.has_error(function() gochan.select { { "send", a, 1 } } end,
        "send on closed channel")
    end)

    it("prefers a closed channel's send case over default, and raises", function()
      local a, b = gochan.chan(1), gochan.chan()
      a:close()
      assert.has_error(function()
        gochan.select { { "send", a, 1 }, { "recv", b }, default = true }
      end, "send on closed channel")
      assert.same({ n = 2, nil, false }, table.pack(a:try_recv()))
    end)

    it("refuses a value that cannot cross, leaving every channel unchanged", function()
      local a, b = gochan.chan(1), gochan.chan(1)
      b:send("kept")
      assert.has_error(function()
        gochan.select { { "send", a, coroutine.create(print) }, { "recv", b } }
      end, "cannot transfer a thread (at case 1 value)")
      assert.equal(0, #a)
      assert.same({ "kept" }, drain(b))
    end)

    it("sends a function in 3rd place as the value, not as a handler", function()
      local a = gochan.chan(1)
      local called = false
      local f = function() called = true; return 42 end
      assert.same({ n = 1, 1 }, table.pack(gochan.select { { "send", a, f } }))
      assert.is_false(called)
      local g, ok = a:recv(0.5)
      assert.is_true(ok)
      assert.equal(42, g())
    end)
  end)

  describe("handlers", function()
    it("calls a recv handler with v, ok and returns its results", function()
      local a = gochan.chan(1)
      a:send(20)
      local seen
      local res = table.pack(gochan.select {
        { "recv", a, function(v, ok)
            seen = { v, ok }
            return v + 1, "more"
          end },
      })
      assert.same({ 20, true }, seen)
      assert.same({ n = 3, 1, 21, "more" }, res)
    end)

    it("calls a recv handler with nil, false on a closed channel", function()
      local a = gochan.chan()
      a:close()
      local res = table.pack(gochan.select {
        { "recv", a, function(...) return select("#", ...), ... end },
      })
      assert.same({ n = 4, 1, 2, nil, false }, res)
    end)

    it("calls a send handler (4th element) with no arguments", function()
      local a = gochan.chan(1)
      local res = table.pack(gochan.select {
        { "send", a, "v", function(...) return select("#", ...), "sent" end },
      })
      assert.same({ n = 3, 1, 0, "sent" }, res)
      assert.same({ "v" }, drain(a))
    end)

    it("sends nil through a send case with a nil value and a handler", function()
      local a = gochan.chan(1)
      assert.same({ n = 2, 1, "h" },
        table.pack(gochan.select { { "send", a, nil, function() return "h" end } }))
      assert.same({ n = 2, nil, true }, table.pack(a:try_recv()))
    end)

    it("returns only the index when a handler returns nothing", function()
      local a = gochan.chan(1)
      a:send(1)
      assert.same({ n = 1, 1 },
        table.pack(gochan.select { { "recv", a, function() end } }))
    end)

    it("calls only the chosen case's handler", function()
      local a, b = gochan.chan(1), gochan.chan(1)
      b:send(1)
      local called = {}
      gochan.select {
        { "recv", a, function() called[#called + 1] = "a" end },
        { "recv", b, function() called[#called + 1] = "b" end },
        default = function() called[#called + 1] = "default" end,
      }
      assert.same({ "b" }, called)
    end)

    it("lets an error in a handler propagate after the case is done", function()
      local a = gochan.chan(1)
      a:send(1)
      assert.has_error(function()
        gochan.select { { "recv", a, function() error("in handler", 0) end } }
      end, "in handler")
      assert.equal(0, #a)
    end)
  end)

  describe("default", function()
    it("returns nil at once when no case is ready (default = true)", function()
      local a, b = gochan.chan(), gochan.chan(1)
      b:send("full")
      local dt, res = helper.elapsed(gochan.select,
        { { "recv", a }, { "send", b, "x" }, default = true })
      assert.same({ n = 1, nil }, res)
      helper.assert_prompt(dt)
      assert.same({ "full" }, drain(b))
    end)

    it("returns nil followed by the results of a default function", function()
      local a = gochan.chan()
      assert.same({ n = 3, nil, "d", 2 },
        table.pack(gochan.select { { "recv", a }, default = function() return "d", 2 end }))
    end)

    it("is not taken when a case is ready", function()
      local a = gochan.chan(1)
      a:send("x")
      assert.same({ n = 3, 1, "x", true },
        table.pack(gochan.select { { "recv", a }, default = true }))
    end)

    it("returns nil for a select with no cases", function()
      assert.same({ n = 1, nil }, table.pack(gochan.select { default = true }))
    end)

    -- task spec later: on an unbuffered channel a send case is ready only
    -- while a task waits to receive.
    it("is taken for an unbuffered channel with no partner", function()
      local a = gochan.chan()
      assert.is_nil((gochan.select { { "send", a, 1 }, { "recv", a }, default = true }))
      assert.equal(0, #a)
    end)
  end)

  describe("nil and false channels", function()
    it("switch a case off", function()
      local a = gochan.chan(1)
      a:send("x")
      for _ = 1, 50 do
        local i = gochan.select {
          { "recv", nil }, { "send", false, 1 }, { "recv", a }, default = true,
        }
        assert.equal(3, i)
        a:send("x")
      end
    end)

    it("include a left-out channel: {\"recv\"} is {\"recv\", nil}, off", function()
      local a = gochan.chan(1)
      a:send(1)
      assert.equal(2, (gochan.select { { "recv" }, { "recv", a } }))
      assert.is_nil((gochan.select { { "send" }, default = true }))
    end)

    it("do not pack the value of an off send case", function()
      assert.is_nil((gochan.select {
        { "send", nil, coroutine.create(print) }, default = true,
      }))
    end)

    it("leave only default when every case is off", function()
      assert.same({ n = 2, nil, "d" }, table.pack(gochan.select {
        { "recv", nil }, { "recv", false }, { "send", nil, 1 },
        default = function() return "d" end,
      }))
    end)

    it("do not call the handler of an off case", function()
      local called = false
      assert.is_nil((gochan.select {
        { "recv", nil, function() called = true end }, default = true,
      }))
      assert.is_false(called)
    end)
  end)

  describe("choice among ready cases", function()
    it("is uniformly random between two ready buffered channels", function()
      local n = 2000
      local a, b = gochan.chan(n), gochan.chan(n)
      for i = 1, n do a:send(i); b:send(i) end
      local count = { 0, 0 }
      for _ = 1, n do
        local i = gochan.select { { "recv", a }, { "recv", b } }
        count[i] = count[i] + 1
      end
      assert.equal(n, count[1] + count[2])
      assert.is_true(count[1] >= 0.4 * n and count[1] <= 0.6 * n,
        ("case 1 chosen %d of %d times"):format(count[1], n))
      assert.equal(n - count[1], #a)
      assert.equal(n - count[2], #b)
    end)

    it("is uniformly random among three always-ready cases", function()
      local n = 3000
      local a, b, c = gochan.chan(), gochan.chan(), gochan.chan(n)
      a:close(); b:close()
      local count = { 0, 0, 0 }
      for _ = 1, n do
        local i = gochan.select { { "recv", a }, { "recv", b }, { "send", c, 0 } }
        count[i] = count[i] + 1
      end
      for i = 1, 3 do
        assert.is_true(count[i] >= 0.25 * n and count[i] <= 0.42 * n,
          ("case %d chosen %d of %d times"):format(i, count[i], n))
      end
      assert.equal(count[3], #c)
    end)

    it("keeps FIFO order within each channel", function()
      local a, b = gochan.chan(100), gochan.chan(100)
      for i = 1, 100 do a:send(i); b:send(-i) end
      local nexta, nextb = 1, -1
      for _ = 1, 100 do
        local i, v = gochan.select { { "recv", a }, { "recv", b } }
        if i == 1 then
          assert.equal(nexta, v); nexta = nexta + 1
        else
          assert.equal(nextb, v); nextb = nextb - 1
        end
      end
    end)
  end)

  describe("timeouts", function()
    it("are recv cases on gochan.after", function()
      local a = gochan.chan()
      local t0 = gochan.now()
      local i, v, ok = gochan.select { { "recv", a }, { "recv", gochan.after(0.05) } }
      local dt = gochan.now() - t0
      assert.equal(2, i)
      assert.equal("number", type(v))
      assert.is_true(v >= t0 + 0.04)
      assert.is_true(ok)
      helper.assert_waited(dt, 0.05)
    end)

    it("let a ready case win over a pending timer", function()
      local a = gochan.chan(1)
      a:send("now")
      local i, v = gochan.select { { "recv", a }, { "recv", gochan.after(0.5) } }
      assert.equal(1, i)
      assert.equal("now", v)
    end)

    it("make a select that blocks return when the first timer fires", function()
      local t0 = gochan.now()
      local late, soon = gochan.after(0.5), gochan.after(0.05)
      local i = gochan.select { { "recv", late }, { "recv", nil }, { "recv", soon } }
      assert.equal(3, i)
      helper.assert_waited(gochan.now() - t0, 0.05)
      assert.same({ n = 2, nil, nil }, table.pack(late:try_recv()))
    end)
  end)

  describe("bad arguments", function()
    it("rejects a non-table argument", function()
      assert.has_error(function() gochan.select() end,
        "bad argument #1 to 'select' (table expected, got no value)")
      assert.has_error(function() gochan.select("recv") end,
        "bad argument #1 to 'select' (table expected, got string)")
    end)

    it("rejects a case that is not a table, before doing any case", function()
      local a = gochan.chan(1)
      a:send(1)
      assert.has_error(function() gochan.select { { "recv", a }, "recv" } end,
        "bad argument #1 to 'select' (case 2: table expected, got \"recv\")")
      assert.has_error(function() gochan.select { { "recv", a }, 42 } end,
        "bad argument #1 to 'select' (case 2: table expected, got number)")
      assert.equal(1, #a)
    end)

    it("rejects an unknown operation", function()
      local a = gochan.chan(1)
      assert.has_error(function() gochan.select { { "send", a, 1 }, { "get", a } } end,
        "bad argument #1 to 'select' (case 2: \"send\" or \"recv\" expected, got \"get\")")
      assert.has_error(function() gochan.select { { 1, a } } end,
        "bad argument #1 to 'select' (case 1: \"send\" or \"recv\" expected, got number)")
      assert.equal(0, #a)
    end)

    it("rejects a case without an operation", function()
      local a = gochan.chan(1)
      assert.has_error(function() gochan.select { { "send", a, 1 }, {} } end,
        "bad argument #1 to 'select' (case 2: \"send\" or \"recv\" expected, got nil)")
      assert.equal(0, #a)
    end)

    it("rejects a channel field that is not a channel", function()
      local a = gochan.chan(1)
      assert.has_error(function() gochan.select { { "send", a, 1 }, { "recv", 42 } } end,
        "bad argument #1 to 'select' (case 2: gochan.chan expected, got number)")
      assert.has_error(function() gochan.select { { "recv", gochan.mutex() } } end,
        "bad argument #1 to 'select' (case 1: gochan.chan expected, got gochan.mutex)")
      assert.has_error(function() gochan.select { { "send", true, 1 } } end,
        "bad argument #1 to 'select' (case 1: gochan.chan expected, got boolean)")
      assert.equal(0, #a)
    end)

    it("rejects a handler that is not a function", function()
      local a = gochan.chan(1)
      a:send(1)
      assert.has_error(function() gochan.select { { "recv", a, 42 } } end,
        "bad argument #1 to 'select' (case 1: function as handler expected, got number)")
      assert.has_error(function() gochan.select { { "send", a, 1, "h" } } end,
        "bad argument #1 to 'select' (case 1: function as handler expected, got \"h\")")
      assert.same({ 1 }, drain(a))
    end)

    it("accepts a callable table as a handler", function()
      local a = gochan.chan(1)
      a:send(5)
      local h = setmetatable({}, { __call = function(_, v) return v * 2 end })
      assert.same({ n = 2, 1, 10 }, table.pack(gochan.select { { "recv", a, h } }))
    end)

    it("rejects a default that is neither true nor a function", function()
      local a = gochan.chan(1)
      a:send(1)
      assert.has_error(function() gochan.select { { "recv", a }, default = 1 } end,
        "bad argument #1 to 'select' (default: true or function expected, got number)")
      assert.equal(1, #a)
    end)

    it("rejects a field other than the cases and default", function()
      local a = gochan.chan(1)
      a:send(1)
      assert.has_error(function() gochan.select { { "recv", a }, timeout = 1 } end,
        "bad argument #1 to 'select' (unexpected field 'timeout')")
      assert.equal(1, #a)
    end)

    it("raises for a value that cannot cross before doing any case", function()
      local a, b = gochan.chan(1), gochan.chan(1)
      b:send("ready")
      local f = assert(io.tmpfile())
      assert.has_error(function()
        gochan.select { { "recv", b }, { "send", a, 1 }, { "send", a, f } }
      end, "cannot transfer a FILE* (at case 3 value)")
      f:close()
      assert.equal(0, #a)
      assert.same({ "ready" }, drain(b))
    end)
  end)

  describe("many cases", function()
    it("handles more cases than fit on the C stack", function()
      local chans, cases = {}, {}
      for i = 1, 40 do
        chans[i] = gochan.chan(1)
        cases[i] = { "recv", chans[i] }
      end
      chans[33]:send("x")
      assert.same({ n = 3, 33, "x", true }, table.pack(gochan.select(cases)))
      for i = 1, 40 do cases[i] = { "send", chans[i], i } end
      local seen = {}
      for _ = 1, 40 do
        local i = gochan.select(cases)
        assert.is_nil(seen[i])
        seen[i] = true
        cases[i] = { "send", nil, i }
      end
      cases.default = true         -- every case is off now
      assert.is_nil((gochan.select(cases)))
      for i = 1, 40 do assert.same({ i }, drain(chans[i])) end
    end)
  end)
end)
