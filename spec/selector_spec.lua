-- gochan.selector (API.md "Sharing big read-only data", end): a select whose
-- cases are checked once; sel:select([ctx]) behaves as gochan.select(cases
-- [, ctx]) and sel:set(i, v) changes the value of send case i. A selector
-- belongs to the state that made it: a task makes its own.

local gochan = require "gochan"
local helper = require "spec.helper"

local T = 5          -- timeout (seconds) for calls that should not wait long

local drain = helper.drain

describe("gochan.selector", function()
  for _, where in ipairs(helper.PLACES) do
    describe("from the " .. where, function()
      it("waits for a task's send on a recv case, again and again", function()
        local ch = gochan.chan()
        local peer = gochan.go(function(c)
          for i = 1, 3 do assert(c:send(i, T)) end
        end, ch)
        local r = helper.within(where, function(c)
          local sel = gochan.selector { { "recv", c }, { "recv", gochan.after(T) } }
          local out = {}
          for k = 1, 3 do out[k] = table.pack(sel:select()) end
          return out
        end, ch)
        assert.same({ { n = 3, 1, 1, true }, { n = 3, 1, 2, true },
                      { n = 3, 1, 3, true } }, r[1])
        assert.is_true((peer:join(T)))
      end)

      it("waits for a task's receive on a send case, with set's value", function()
        local ch = gochan.chan()
        local peer = gochan.go(function(c)
          return c:recv(T), c:recv(T)
        end, ch)
        local r = helper.within(where, function(c)
          local sel = gochan.selector { { "send", c, "a" }, { "recv", gochan.after(T) } }
          local i1 = sel:select()
          sel:set(1, "b")
          local i2 = sel:select()
          return i1, i2
        end, ch)
        assert.same({ n = 2, 1, 1 }, r)
        assert.same({ true, "a", "b", true }, { peer:join(T) })
      end)

      it("gives up when its context is done, and not with default", function()
        local ctx, cancel = gochan.with_cancel()
        local ch = gochan.chan()
        local k = helper.when_blocked(where, "select", cancel)
        assert.same({ n = 2, nil, "context canceled" },
          helper.within(where, function(c, x)
            local sel = gochan.selector { { "recv", c }, { "send", c, 1 } }
            return sel:select(x)
          end, ch, ctx))
        assert.same({ n = 1, nil },
          helper.within(where, function(c, x)
            local sel = gochan.selector { { "recv", c }, default = true }
            return sel:select(x)
          end, ch, ctx))
        assert.is_true((k:join(T)))
      end)

      it("gives up at a context's deadline, and works with a live one", function()
        local ch = gochan.chan(1)
        local r = helper.within(where, function(c)
          local sel = gochan.selector { { "recv", c } }
          local t0 = gochan.now()
          local a, err = sel:select((gochan.with_timeout(0.05)))
          local dt = gochan.now() - t0
          c:send("x")
          return a, err, dt, sel:select((gochan.with_cancel()))
        end, ch)
        assert.same({ nil, "context deadline exceeded" }, { r[1], r[2] })
        helper.assert_waited(r[3], 0.05)
        assert.same({ 1, "x", true }, { r[4], r[5], r[6] })
      end)

      it("waits on many cases, with a context", function()
        local chans = {}
        for k = 1, 12 do chans[k] = gochan.chan() end
        local peer = gochan.go(function(c) return c:send("last", T) end, chans[12])
        local r = helper.within(where, function(cs, x)
          local cases = {}
          for k = 1, #cs do cases[k] = { "recv", cs[k] } end
          local sel = gochan.selector(cases)
          local a = table.pack(sel:select(x))
          local t0 = gochan.now()
          local b = table.pack(sel:select((gochan.with_timeout(0.02))))
          return a, b, gochan.now() - t0
        end, chans, (gochan.with_cancel()))
        assert.same({ n = 3, 12, "last", true }, r[1])
        assert.same({ n = 2, nil, "context deadline exceeded" }, r[2])
        helper.assert_waited(r[3], 0.02)
        assert.is_true((peer:join(T)))
      end)

      it("raises send on closed channel for a send case", function()
        local ch = gochan.chan()
        ch:close()
        local r = helper.within(where, function(c)
          local sel = gochan.selector { { "send", c, 1 } }
          local ok, err = pcall(sel.select, sel)
          return ok, err, pcall(sel.select, sel)
        end, ch)
        assert.is_false(r[1])
        assert.matches("send on closed channel", r[2])
        assert.is_false(r[3])
        assert.matches("send on closed channel", r[4])
      end)

      it("raises canceled in a canceled task, as every blocking call", function()
        if where ~= "task" then return end
        local ch = gochan.chan()
        local t = gochan.go(function(c)
          local sel = gochan.selector { { "recv", c } }
          return sel:select()
        end, ch)
        helper.wait_blocked(t, "select")
        t:cancel()
        assert.same({ false, "canceled" }, { (t:join(T)), (select(2, t:join(T))) })
      end)
    end)
  end

  describe("cases", function()
    it("returns a recv case's index, value and true; nil, false when closed", function()
      local a, b = gochan.chan(1), gochan.chan(1)
      local sel = gochan.selector { { "recv", a }, { "recv", b } }
      b:send("hello")
      assert.same({ n = 3, 2, "hello", true }, table.pack(sel:select()))
      a:send(nil)
      assert.same({ n = 3, 1, nil, true }, table.pack(sel:select()))
      b:close()
      assert.same({ n = 3, 2, nil, false }, table.pack(sel:select()))
    end)

    it("sends the value given at creation until set changes it", function()
      local c = gochan.chan(4)
      local sel = gochan.selector { { "send", c, { k = 1 } } }
      assert.same({ n = 1, 1 }, table.pack(sel:select()))
      sel:set(1, 42)
      assert.same({ n = 1, 1 }, table.pack(sel:select()))
      sel:set(1, nil)
      assert.same({ n = 1, 1 }, table.pack(sel:select()))
      assert.same({ n = 2, { k = 1 }, true }, table.pack(c:recv(T)))
      assert.same({ n = 2, 42, true }, table.pack(c:recv(T)))
      assert.same({ n = 2, nil, true }, table.pack(c:recv(T)))
    end)

    it("calls handlers with v, ok (recv) or nothing (send) and returns their results", function()
      local a, b = gochan.chan(1), gochan.chan(1)
      local sel = gochan.selector {
        { "recv", a, function(v, ok) return "got", v, ok end },
        { "send", b, "x", function(...) return "sent", select("#", ...) end },
      }
      a:send(7)
      b:send("full")                    -- only case 1 is ready
      assert.same({ n = 4, 1, "got", 7, true }, table.pack(sel:select()))
      assert.same({ "full" }, drain(b))  -- only case 2 is ready
      assert.same({ n = 3, 2, "sent", 0 }, table.pack(sel:select()))
      assert.same({ "x" }, drain(b))
    end)

    it("lets a handler run the same selector again", function()
      local a = gochan.chan(2)
      a:send(1); a:send(2)
      local sel
      sel = gochan.selector { { "recv", a, function(v)
        if v == 1 then return v, select(2, sel:select()) end
        return v
      end } }
      assert.same({ n = 3, 1, 1, 2 }, table.pack(sel:select()))
    end)

    it("takes default (true or a function) when nothing is ready", function()
      local a = gochan.chan(1)
      local s1 = gochan.selector { { "recv", a }, default = true }
      local s2 = gochan.selector { { "recv", a }, default = function() return "d", 2 end }
      assert.same({ n = 1, nil }, table.pack(s1:select()))
      assert.same({ n = 3, nil, "d", 2 }, table.pack(s2:select()))
      a:send(5)
      assert.same({ n = 3, 1, 5, true }, table.pack(s2:select()))
    end)

    it("never fires a case whose channel is nil or false", function()
      local a = gochan.chan(1)
      a:send(1)
      local called = false
      local sel = gochan.selector {
        { "recv", nil, function() called = true end },
        { "send", false, "x" },
        { "recv", a },
        default = true,
      }
      assert.same({ n = 3, 3, 1, true }, table.pack(sel:select()))
      assert.same({ n = 1, nil }, table.pack(sel:select()))
      assert.is_false(called)
      sel:set(2, "y")                   -- an off send case is still a send case
    end)

    it("keeps its channels alive and reads the case table only once", function()
      local sel, ch
      do
        local cases = { { "recv", gochan.chan(1) } }
        sel = gochan.selector(cases)
        ch = cases[1][2]
        cases[1] = { "send", false, 1 }   -- changes nothing for the selector
        cases.timeout = 1
      end
      collectgarbage("collect")
      ch:send("kept")
      assert.same({ n = 3, 1, "kept", true }, table.pack(sel:select()))
    end)

    it("chooses uniformly at random among ready cases", function()
      local n = 2000
      local a, b = gochan.chan(n), gochan.chan(n)
      for i = 1, n do a:send(i); b:send(i) end
      local sel = gochan.selector { { "recv", a }, { "recv", b } }
      local count = { 0, 0 }
      for _ = 1, n do
        local i = sel:select()
        count[i] = count[i] + 1
      end
      assert.is_true(count[1] >= 0.4 * n and count[1] <= 0.6 * n,
        ("case 1 chosen %d of %d times"):format(count[1], n))
      assert.equal(n - count[1], #a)
      assert.equal(n - count[2], #b)
    end)

    it("chooses uniformly in a task too, among three always-ready cases", function()
      local n = 3000
      local a, b, c = gochan.chan(), gochan.chan(), gochan.chan(n)
      a:close(); b:close()
      local count = helper.within("task", function(x, y, z, m)
        local sel = gochan.selector { { "recv", x }, { "recv", y }, { "send", z, 0 } }
        local cnt = { 0, 0, 0 }
        for _ = 1, m do
          local i = sel:select()
          cnt[i] = cnt[i] + 1
        end
        return cnt
      end, a, b, c, n)[1]
      for i = 1, 3 do
        assert.is_true(count[i] >= 0.25 * n and count[i] <= 0.42 * n,
          ("case %d chosen %d of %d times"):format(i, count[i], n))
      end
      assert.equal(count[3], #c)
    end)
  end)

  describe("memory", function()
    it("does not grow the Lua heap over many selects", function()
      local a, b = gochan.chan(128), gochan.chan(128)
      local sel = gochan.selector { { "recv", a }, { "send", b, 1 } }
      local function run(k)
        for _ = 1, k do
          if #a == 0 then a:send(1) end
          local i = sel:select()
          if i == 2 then b:recv() end
        end
        drain(a); drain(b)
      end
      run(1000)
      collectgarbage("collect"); collectgarbage("collect")
      local before = collectgarbage("count")
      collectgarbage("stop")
      run(100000)
      local grown = collectgarbage("count") - before
      collectgarbage("restart")
      assert.is_true(grown < 4, ("the heap grew by %.1f kB"):format(grown))
    end)

    it("does not grow a task's heap over many selects", function()
      local grown = helper.within("task", function()
        local a = gochan.chan(128)
        local sel = gochan.selector { { "recv", a }, { "recv", gochan.chan() } }
        for _ = 1, 1000 do a:send(1); sel:select() end
        collectgarbage("collect"); collectgarbage("collect")
        local before = collectgarbage("count")
        collectgarbage("stop")
        for _ = 1, 100000 do a:send(1); sel:select() end
        local g = collectgarbage("count") - before
        collectgarbage("restart")
        return g
      end)[1]
      assert.is_true(grown < 4, ("the heap grew by %.1f kB"):format(grown))
    end)
  end)

  describe("bad input", function()
    it("rejects what gochan.select rejects, when made", function()
      local ch = gochan.chan()
      assert.has_error(function() gochan.selector("x") end,
        "bad argument #1 to 'selector' (table expected, got string)")
      assert.has_error(function() gochan.selector { { "take", ch } } end,
        "bad argument #1 to 'selector' (case 1: \"send\" or \"recv\" expected, got \"take\")")
      assert.has_error(function() gochan.selector { { "recv", ch }, { "recv", {} } } end,
        "bad argument #1 to 'selector' (case 2: gochan.chan expected, got table)")
      assert.has_error(function() gochan.selector { { "recv", ch, 5 } } end,
        "bad argument #1 to 'selector' (case 1: function as handler expected, got number)")
      assert.has_error(function() gochan.selector { { "recv", ch }, timeout = 1 } end,
        "bad argument #1 to 'selector' (unexpected field 'timeout')")
      assert.has_error(function() gochan.selector { { "recv", ch }, default = 1 } end,
        "bad argument #1 to 'selector' (default: true or function expected, got number)")
      assert.has_error(function() gochan.selector { { "send", ch, coroutine.create(print) } } end,
        "cannot transfer a thread (at case 1 value)")
    end)

    it("rejects a bad context, index, non-send case or value", function()
      local ch = gochan.chan()
      local sel = gochan.selector { { "recv", ch }, { "send", ch, 1 } }
      assert.has_error(function() sel:select(1) end,
        "bad argument #1 to 'select' (gochan.context expected, got number)")
      assert.has_error(function() sel:set("x", 1) end,
        "bad argument #1 to 'set' (number expected, got string)")
      assert.has_error(function() sel:set(3, 1) end,
        "bad argument #1 to 'set' (case index out of range (1 to 2))")
      assert.has_error(function() sel:set(0, 1) end,
        "bad argument #1 to 'set' (case index out of range (1 to 2))")
      assert.has_error(function() sel:set(1, 1) end,
        "bad argument #1 to 'set' (case 1 is not a send case)")
      assert.has_error(function() sel:set(2, coroutine.create(print)) end,
        "cannot transfer a thread (at case 2 value)")
      assert.has_error(function() sel.select({}) end,
        "bad argument #1 to 'select' (gochan.selector expected, got table)")
      local out = gochan.chan(1)
      local s2 = gochan.selector { { "send", out, 1 } }
      assert.has_error(function() s2:set(1, coroutine.create(print)) end,
        "cannot transfer a thread (at case 1 value)")
      assert.same({ n = 1, 1 }, table.pack(s2:select()))
      assert.same({ n = 2, 1, true }, table.pack(out:recv(T)))  -- the old value
      out:close()
      assert.has_error(function() s2:select() end, "send on closed channel")
    end)

    it("cannot be sent to another task", function()
      local sel = gochan.selector {}
      assert.has_error(function() gochan.chan(1):send(sel) end,
        "cannot transfer a gochan.selector (at value)")
    end)

    it("prints as a gochan.selector", function()
      assert.matches("^gochan%.selector%(cases=2%) ",
        tostring(gochan.selector { { "recv", nil }, { "recv", nil } }))
    end)
  end)
end)
