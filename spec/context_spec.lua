-- Contexts (API.md "Cancellation: contexts"): the tree, deadlines, values,
-- and every blocking call with a context, from the main state and from a
-- task: it gives up when the context is done, before or while it waits,
-- having sent or taken nothing.

local gochan = require "gochan"
local helper = require "spec.helper"

local T = 5          -- timeout (seconds) for calls that should not wait long

describe("gochan.background()", function()
  it("is never done and has no deadline, values or done channel", function()
    local bg = gochan.background()
    assert.is_nil(bg:done())
    assert.is_nil(bg:err())
    assert.is_nil(bg:cause())
    assert.is_nil(bg:deadline())
    assert.is_nil(bg:value("k"))
    assert.is_true(rawequal(bg, gochan.background()))
    assert.matches("^gochan%.context%(background%)", tostring(bg))
  end)

  it("cannot be canceled", function()
    assert.has_error(function() gochan.background():cancel() end,
      "context cannot be canceled")
  end)
end)

describe("gochan.with_cancel()", function()
  it("returns a live context and a cancel function", function()
    local ctx, cancel = gochan.with_cancel()
    assert.equal("function", type(cancel))
    assert.is_nil(ctx:err())
    assert.matches("^gochan%.context%(live%)", tostring(ctx))
    cancel()
    assert.equal("context canceled", ctx:err())
    assert.equal("context canceled", ctx:cause())
    assert.matches("^gochan%.context%(context canceled%)", tostring(ctx))
    cancel("again")                         -- does nothing
    assert.equal("context canceled", ctx:cause())
  end)

  it("closes the same done channel every time", function()
    local ctx, cancel = gochan.with_cancel()
    local d = ctx:done()
    assert.is_true(rawequal(d, ctx:done()))
    assert.same({ nil, nil }, { d:recv(0) })
    cancel()
    assert.same({ n = 2, nil, false }, table.pack(d:recv(T)))
    local c2, cancel2 = gochan.with_cancel()
    cancel2()
    assert.same({ n = 2, nil, false }, table.pack(c2:done():recv(0)))
  end)

  for _, where in ipairs(helper.PLACES) do
    it("wakes a recv on its done channel when canceled, from the " .. where, function()
      local ctx, cancel = gochan.with_cancel()
      local k = helper.when_blocked(where, "recv on gochan.chan", cancel, "stop")
      assert.same({ n = 3, nil, false, "stop" }, helper.within(where, function(x)
        local v, ok = x:done():recv(5)
        return v, ok, x:cause()
      end, ctx))
      assert.is_true((k:join(T)))
    end)
  end

  it("keeps the cause, transferred", function()
    local ctx = gochan.with_cancel()
    ctx:cancel({ code = 7 })
    assert.same({ code = 7 }, ctx:cause())
    assert.equal("context canceled", ctx:err())
  end)

  it("cancels every descendant, with the same err and cause, not the parent", function()
    local a = gochan.with_cancel()
    local b, cancel_b = gochan.with_cancel(a)
    local c = gochan.with_value(b, "k", 1)
    local d = gochan.with_timeout(c, 60)
    local e = gochan.with_cancel(a)
    cancel_b("why")
    for _, x in ipairs { b, c, d } do
      assert.equal("context canceled", x:err())
      assert.equal("why", x:cause())
    end
    assert.is_nil(a:err())
    assert.is_nil(e:err())
    a:cancel()
    assert.equal("context canceled", e:err())
    assert.equal("context canceled", e:cause())
  end)

  it("makes a child of a done parent done", function()
    local a = gochan.with_cancel()
    a:cancel("gone")
    local b = gochan.with_cancel(a)
    assert.equal("context canceled", b:err())
    assert.equal("gone", b:cause())
  end)

  it("gives a cancel function that can be sent to a task and called there", function()
    local ctx, cancel = gochan.with_cancel()
    local t = gochan.go(function(c) c("from a task") end, cancel)
    assert.same({ true }, { t:join(T) })
    assert.equal("from a task", ctx:cause())
  end)

  it("crosses by reference: a task sees the cancel", function()
    local ctx, cancel = gochan.with_cancel()
    local ch = gochan.chan(1)
    local t = gochan.go(function(c, back)
      back:send(c)
      return c:done():recv(5)
    end, ctx, ch)
    assert.is_true(rawequal(ctx, ch:recv(T)))
    cancel()
    assert.same({ true, nil, false }, { t:join(T) })
  end)

  it("rejects a parent that is not a context", function()
    assert.has_error(function() gochan.with_cancel({}) end,
      "bad argument #1 to 'with_cancel' (gochan.context expected, got table)")
  end)

  it("frees a canceled context with 10,000 descendants", function()
    if not gochan._live then return end
    local function live_now ()
      collectgarbage(); collectgarbage()
      return (gochan._live())
    end
    local before = live_now()
    local root, cancel = gochan.with_cancel()
    local keep = {}
    for i = 1, 10000 do
      local parent = (i % 3 == 0 and keep[i - 1]) or root
      keep[i] = gochan.with_cancel(parent)
    end
    cancel()
    for i = 1, 10000, 97 do assert.equal("context canceled", keep[i]:err()) end
    keep, root, cancel = nil, nil, nil  -- luacheck: ignore 311 (dropped)
    local t0, now = gochan.now(), live_now()
    while now ~= before and gochan.now() - t0 < 5 do
      gochan.sleep(0.005)
      now = live_now()
    end
    assert.equal(before, now)
  end)
end)

describe("gochan.with_timeout() and gochan.with_deadline()", function()
  it("cancel by themselves with 'context deadline exceeded'", function()
    local ctx = gochan.with_timeout(0.03)
    assert.is_nil(ctx:err())
    assert.same({ n = 2, nil, false }, table.pack(ctx:done():recv(T)))
    assert.equal("context deadline exceeded", ctx:err())
    assert.equal("context deadline exceeded", ctx:cause())
    local d = gochan.with_deadline(gochan.now() + 0.03)
    assert.same({ n = 2, nil, false }, table.pack(d:done():recv(T)))
    assert.equal("context deadline exceeded", d:err())
  end)

  for _, where in ipairs(helper.PLACES) do
    it("close the done channel a recv waits on at the deadline, from the " .. where, function()
      local t0 = gochan.now()                -- a task may start late, never early
      local ctx = gochan.with_timeout(0.05)
      local r = helper.within(where, function(x, start)
        local v, ok = x:done():recv(5)
        return v, ok, x:err(), gochan.now() - start
      end, ctx, t0)
      assert.same({ nil, false, "context deadline exceeded" }, { r[1], r[2], r[3] })
      helper.assert_waited(r[4], 0.05)
    end)
  end

  it("are done at once with a deadline already past", function()
    assert.equal("context deadline exceeded", gochan.with_timeout(0):err())
    assert.equal("context deadline exceeded", gochan.with_timeout(-1):err())
    assert.equal("context deadline exceeded",
                 gochan.with_deadline(gochan.now() - 1):err())
  end)

  it("report the earliest deadline of the context and its ancestors", function()
    local a = gochan.with_timeout(10)
    local da = a:deadline()
    assert.is_true(math.abs(da - (gochan.now() + 10)) < 1)
    local b = gochan.with_timeout(a, 100)
    assert.equal(da, b:deadline())
    local c = gochan.with_value(a, "k", true)
    assert.equal(da, c:deadline())
    local d = gochan.with_deadline(a, da - 5)
    assert.is_true(math.abs(d:deadline() - (da - 5)) < 1e-6)
    assert.is_nil(gochan.with_cancel():deadline())
    a:cancel()
    assert.equal("context canceled", d:err())   -- the parent's err
  end)

  it("can be canceled before the deadline", function()
    local ctx, cancel = gochan.with_timeout(60)
    cancel()
    assert.equal("context canceled", ctx:err())
  end)

  it("reject a bad duration", function()
    assert.has_error(function() gochan.with_timeout("soon") end,
      "bad argument #1 to 'with_timeout' (number expected, got string)")
    assert.has_error(function() gochan.with_timeout(gochan.background(), 0/0) end,
      "bad argument #2 to 'with_timeout' (number expected, got nan)")
    assert.has_error(function() gochan.with_deadline() end,
      "bad argument #1 to 'with_deadline' (number expected, got no value)")
  end)
end)

describe("gochan.with_value()", function()
  it("finds values up the chain, by value, transferred", function()
    local a = gochan.with_value("user", { name = "ann" })
    local b = gochan.with_cancel(a)
    local c = gochan.with_value(b, 1, "one")
    local d = gochan.with_value(c, true, "yes")
    assert.same({ name = "ann" }, d:value("user"))
    assert.equal("one", d:value(1))
    assert.equal("one", d:value(1.0))
    assert.equal("yes", d:value(true))
    assert.is_nil(d:value("nobody"))
    assert.is_nil(d:value({}))
    assert.is_nil(a:value(1))
    local t = gochan.go(function(ctx) return ctx:value("user").name end, d)
    assert.same({ true, "ann" }, { t:join(T) })
  end)

  it("shadows a parent's value with the same key", function()
    local a = gochan.with_value("k", 1)
    local b = gochan.with_value(a, "k", 2)
    assert.equal(2, b:value("k"))
    assert.equal(1, a:value("k"))
  end)

  it("cannot be canceled itself but is done when its parent is", function()
    local p = gochan.with_cancel()
    local v = gochan.with_value(p, "k", 1)
    assert.has_error(function() v:cancel() end, "context cannot be canceled")
    p:cancel()
    assert.equal("context canceled", v:err())
  end)

  it("rejects bad keys and values", function()
    assert.has_error(function() gochan.with_value({}, 1) end,
      "bad argument #1 to 'with_value' (string, number or boolean expected, got table)")
    assert.has_error(function() gochan.with_value(gochan.background(), nil, 1) end,
      "bad argument #2 to 'with_value' (string, number or boolean expected, got nil)")
    assert.has_error(function() gochan.with_value(0/0, 1) end,
      "bad argument #1 to 'with_value' (key is NaN)")
    assert.has_error(function() gochan.with_value("k", coroutine.create(print)) end,
      "cannot transfer a thread (at value)")
  end)
end)

describe("blocking calls with a context", function()
  for _, where in ipairs(helper.PLACES) do
    describe("from the " .. where, function()
      it("ch:send gives up when the context is canceled while it waits", function()
        local ctx, cancel = gochan.with_cancel()
        local ch = gochan.chan()
        local k = helper.when_blocked(where, "send on gochan.chan", cancel)
        assert.same({ n = 2, false, "context canceled" },
          helper.within(where, function(c, x) return c:send("v", x) end, ch, ctx))
        assert.same({ nil, nil }, { ch:recv(0) })    -- nothing was sent
        assert.is_true((k:join(T)))
      end)

      it("ch:send gives up at once on a done context, even with room", function()
        local ctx = gochan.with_cancel()
        ctx:cancel()
        local ch = gochan.chan(1)
        assert.same({ n = 2, false, "context canceled" },
          helper.within(where, function(c, x) return c:send("v", x) end, ch, ctx))
        assert.equal(0, #ch)
      end)

      it("ch:send with a live context sends", function()
        local ctx = gochan.with_cancel()
        local ch = gochan.chan(1)
        assert.same({ n = 1, true },
          helper.within(where, function(c, x) return c:send("v", x) end, ch, ctx))
        assert.equal("v", (ch:recv(0)))
      end)

      it("ch:recv gives up at the context's deadline", function()
        -- timed from the context's making: a task may start late (under
        -- a sanitizer or collector stress), never before it
        local t0 = gochan.now()
        local ctx = gochan.with_timeout(0.05)
        local ch = gochan.chan()
        local r = helper.within(where, function(c, x, start)
          local v, ok, err = c:recv(x)
          return v, ok, err, gochan.now() - start
        end, ch, ctx, t0)
        assert.same({ nil, nil, "context deadline exceeded" }, { r[1], r[2], r[3] })
        helper.assert_waited(r[4], 0.05)
      end)

      it("ch:recv gives up at once on a done context, leaving the value", function()
        local ctx = gochan.with_cancel()
        ctx:cancel()
        local ch = gochan.chan(1)
        ch:send(1)
        assert.same({ n = 3, nil, nil, "context canceled" },
          helper.within(where, function(c, x) return c:recv(x) end, ch, ctx))
        assert.equal(1, (ch:recv(0)))
      end)

      it("ch:recv with a live context receives", function()
        local ctx = gochan.with_timeout(60)
        local ch = gochan.chan()
        local s = gochan.go(function(c) return c:send(5, 5) end, ch)
        assert.same({ n = 2, 5, true },
          helper.within(where, function(c, x) return c:recv(x) end, ch, ctx))
        s:join(T)
      end)

      it("ch:range(ctx) ends the loop when the context is done", function()
        local ctx, cancel = gochan.with_cancel()
        local ch = gochan.chan(3)
        ch:send(1); ch:send(2)
        local k = helper.when_blocked(where, "recv on gochan.chan", cancel)
        local r = helper.within(where, function(c, x)
          local got = {}
          for v in c:range(x) do got[#got + 1] = v end
          return got, x:err()
        end, ch, ctx)
        assert.same({ 1, 2 }, r[1])
        assert.equal("context canceled", r[2])
        assert.is_true((k:join(T)))
      end)

      it("wg:wait gives up when the context is done", function()
        local ctx, cancel = gochan.with_cancel()
        local wg = gochan.waitgroup()
        wg:add(1)
        local k = helper.when_blocked(where, "wait on gochan.waitgroup", cancel)
        assert.same({ n = 2, false, "context canceled" },
          helper.within(where, function(w, x) return w:wait(x) end, wg, ctx))
        assert.same({ n = 2, false, "context canceled" },
          helper.within(where, function(w, x) w:done(); return w:wait(x) end, wg, ctx))
        assert.is_true((k:join(T)))
      end)

      it("task:join gives up when the context is done", function()
        local ctx = gochan.with_timeout(0.03)
        local blocker = gochan.chan()
        local t = gochan.go(function(c) return c:recv(5) end, blocker)
        assert.same({ n = 2, nil, "context deadline exceeded" },
          helper.within(where, function(x, c) return x:join(c) end, t, ctx))
        blocker:send(1)
        assert.same({ true, 1, true }, { t:join(T) })
      end)

      it("mu:lock gives up when the context is done, without the lock", function()
        local ctx, cancel = gochan.with_cancel()
        local mu = gochan.mutex()
        mu:lock()
        local k = helper.when_blocked(where, "lock on gochan.mutex", cancel)
        assert.same({ n = 2, nil, "context canceled" },
          helper.within(where, function(m, x) return m:lock(x) end, mu, ctx))
        mu:unlock()
        local live = gochan.with_cancel()
        local r = helper.within(where, function(m, x)
          local closer = m:lock(x)
          m:unlock()
          return closer ~= nil
        end, mu, live)
        assert.same({ n = 1, true }, r)
        assert.is_true(mu:try_lock())
        mu:unlock()
        assert.is_true((k:join(T)))
      end)

      it("sleep returns true after the whole time, nil, err when cut short", function()
        -- the deadline is made where it is used: a task may start late
        local r = helper.within(where, function(live)
          local a = gochan.sleep(0.001, live)
          local x = gochan.with_timeout(0.03)
          local t0 = gochan.now()
          local b, err = gochan.sleep(10, x)
          return a, b, err, gochan.now() - t0
        end, (gochan.with_cancel()))
        assert.same({ true, nil, "context deadline exceeded" }, { r[1], r[2], r[3] })
        assert.is_true(r[4] < 5)
      end)

      it("select gives up when the context is done, and not with default", function()
        local ctx, cancel = gochan.with_cancel()
        local ch = gochan.chan()
        local k = helper.when_blocked(where, "select", cancel)
        assert.same({ n = 2, nil, "context canceled" },
          helper.within(where, function(c, x)
            return gochan.select({ { "recv", c }, { "send", c, 1 } }, x)
          end, ch, ctx))
        assert.same({ n = 1, nil },
          helper.within(where, function(c, x)
            return gochan.select({ { "recv", c }, default = true }, x)
          end, ch, ctx))
        assert.is_true((k:join(T)))
      end)

      it("a done context's channel is a ready case in select", function()
        local ctx, cancel = gochan.with_cancel()
        cancel()
        assert.same({ n = 3, 2, nil, false },
          helper.within(where, function(x)
            return gochan.select { { "recv", gochan.chan() }, { "recv", x:done() } }
          end, ctx))
      end)
    end)
  end

  it("reject a last argument that is neither a number nor a context", function()
    local ch = gochan.chan(1)
    assert.has_error(function() ch:recv({}) end,
      "bad argument #1 to 'recv' (number or gochan.context expected, got table)")
    assert.has_error(function() gochan.select({ { "recv", ch } }, 1) end,
      "bad argument #2 to 'select' (gochan.context expected, got number)")
    assert.has_error(function() gochan.mutex():lock(1) end,
      "bad argument #1 to 'lock' (gochan.context expected, got number)")
    assert.has_error(function() gochan.sleep(0, 1) end,
      "bad argument #2 to 'sleep' (gochan.context expected, got number)")
  end)

  it("a cancel wakes every call waiting on the context, in every task", function()
    local ctx, cancel = gochan.with_cancel()
    local ch = gochan.chan()
    local ts = {}
    for i = 1, 20 do
      ts[i] = gochan.go(function(c, x) return c:recv(x) end, ch, ctx)
    end
    for i = 1, 20 do helper.wait_blocked(ts[i]) end
    cancel()
    for i = 1, 20 do
      assert.same({ true, nil, nil, "context canceled" }, { ts[i]:join(T) })
    end
  end)

  it("a wait on a context with a deadline is never a deadlock", function()
    local ctx = gochan.with_timeout(0.3)
    assert.same({ n = 3, nil, nil, "context deadline exceeded" },
                table.pack(gochan.chan():recv(ctx)))
  end)

  for _, where in ipairs(helper.PLACES) do
    it("a cancel racing a delivery never both delivers and gives up (" .. where .. ")", function()
      local rounds = 150
      local r = helper.within(where, function(n)
        local got, gaveup, bad = 0, 0, 0
        for i = 1, n do
          local ctx, cancel = gochan.with_cancel()
          local ch, quit = gochan.chan(), gochan.chan()
          local sender = gochan.go(function(c, q, v)
            return (gochan.select { { "send", c, v }, { "recv", q } })
          end, ch, quit, i)
          local canceler = gochan.go(function(c) c() end, cancel)
          local v, ok, err = ch:recv(ctx)
          quit:close()
          local _, which = sender:join(5)
          canceler:join(5)
          if v == i and ok and err == nil and which == 1 then got = got + 1
          elseif v == nil and err == "context canceled" and which == 2 then
            gaveup = gaveup + 1
          else bad = bad + 1 end
        end
        return got, gaveup, bad
      end, rounds)
      assert.equal(0, r[3])
      assert.equal(rounds, r[1] + r[2])
    end)
  end
end)
