-- Groups (API.md "Groups", Go's errgroup): go, try_go, limit, wait, the
-- group's context, from the main state and from a task.

local gochan = require "gochan"
local helper = require "spec.helper"

local T = 5          -- timeout (seconds) for calls that should not wait long

describe("gochan.group", function()
  it("returns a group and its context, a child of the one given", function()
    local parent, cancel = gochan.with_cancel()
    local g, gctx = gochan.group(parent)
    assert.equal("gochan.group", getmetatable(g).__name)
    assert.is_nil(gctx:err())
    cancel()
    assert.equal("context canceled", gctx:err())
    assert.is_true(g:wait(T))
  end)

  it("rejects a context argument that is not a context", function()
    assert.has_error(function() gochan.group(42) end,
      "bad argument #1 to 'group' (gochan.context expected, got number)")
  end)

  for _, where in ipairs(helper.PLACES) do
    describe("from the " .. where, function()
      it("waits for every task and returns true when none failed", function()
        local r = helper.within(where, function()
          local g = gochan.group()
          local sum = gochan.atomic(0)
          for i = 1, 10 do g:go(function(s, k) gochan.sleep(0.001) s:add(k) end, sum, i) end
          local ok = g:wait(5)
          return ok, sum:get()
        end)
        assert.same({ n = 2, true, 55 }, r)
      end)

      it("returns the first failure as join does and cancels the context", function()
        local r = helper.within(where, function()
          local g, gctx = gochan.group()
          g:go(function() error("first", 0) end)
          local waited = g:go(function(c)
            local _, _, err = gochan.chan():recv(c)   -- until the group's context is done
            return err
          end, gctx)
          local ok, err, tb = g:wait(5)
          return ok, err, tb, gctx:err(), select(2, waited:join(5))
        end)
        local tb = r[3]
        -- join's shape: the message, then the traceback from where it was
        -- raised down to the task's function (none of the group's frames)
        assert.same({ n = 5, false, "first\n" .. tb, tb, "context canceled", "context canceled" }, r)
        assert.matches("^stack traceback:\n\t%[C%]: in function 'error'\n"
                       .. "\tspec/group_spec.lua:%d+: in function <spec/group_spec.lua:%d+>$", tb)
      end)

      it("keeps the first error when several tasks fail", function()
        local r = helper.within(where, function()
          local g, gctx = gochan.group()
          local gate = gochan.chan()
          g:go(function() error({ code = 1 }) end)
          g:go(function(c) c:recv(5) error({ code = 2 }) end, gate)
          gctx:done():recv(5)                 -- the first failure is in
          gate:close()
          local ok, err = g:wait(5)
          local again, err2 = g:wait(5)
          return ok, err.code, again, err2.code
        end)
        assert.same({ n = 4, false, 1, false, 1 }, r)
      end)
    end)
  end

  describe("g:limit()", function()
    it("runs at most n tasks at once; go waits for room", function()
      local g = gochan.group()
      g:limit(2)
      local now, most = gochan.atomic(0), gochan.atomic(0)
      for _ = 1, 8 do
        assert.is_not_nil(g:go(function(n, m)
          local k = n:add(1)
          while true do
            local v = m:get()
            if k <= v or m:cas(v, k) then break end
          end
          gochan.sleep(0.005)
          n:add(-1)
        end, now, most))
      end
      assert.is_true(g:wait(T))
      -- never more than the limit (a slow machine may never fill it)
      assert.is_true(most:get() >= 1 and most:get() <= 2, tostring(most:get()))
    end)

    for _, where in ipairs(helper.PLACES) do
      it("go waits for room, from the " .. where, function()
        local g = gochan.group()
        g:limit(1)
        local gate = gochan.chan()
        local first = g:go(function(c) return c:recv(5) end, gate)
        local opener = helper.when_blocked(where, "select", function(c) c:close() end, gate)
        local r = helper.within(where, function(gr, c)
          local t = gr:go(function() return "second" end)
          local _, open = c:try_recv()           -- false: closed before go returned
          return open, select(2, t:join(5))
        end, g, gate)
        assert.same({ n = 2, false, "second" }, r)
        assert.same({ true, nil, false }, { first:join(T) })
        assert.is_true((opener:join(T)))
        assert.is_true(g:wait(T))
      end)
    end

    it("try_go returns nil while the group is full", function()
      local g = gochan.group()
      g:limit(1)
      local gate = gochan.chan()
      local t = g:try_go(function(c) c:recv(5) end, gate)
      assert.is_not_nil(t)
      assert.is_nil(g:try_go(function() end))
      gate:close()
      assert.is_true(g:wait(T))
      assert.is_not_nil(g:try_go(function() end))
      assert.is_true(g:wait(T))
    end)

    it("go gives up when the group's context is done", function()
      local parent, cancel = gochan.with_cancel()
      local g = gochan.group(parent)
      g:limit(1)
      local gate = gochan.chan()
      g:go(function(c) c:recv(5) end, gate)
      local waiter = gochan.go(function(gr)
        return gr:go(function() end)
      end, g)
      helper.wait_blocked(waiter)
      cancel()
      assert.same({ true, nil, "context canceled" }, { waiter:join(T) })
      gate:close()
      assert.is_true(g:wait(T))
    end)

    it("rejects 0 and non-integers, and a change while tasks run", function()
      local g = gochan.group()
      assert.has_error(function() g:limit(0) end,
        "bad argument #1 to 'limit' (limit must be positive or negative, got 0)")
      assert.has_error(function() g:limit("x") end,
        "bad argument #1 to 'limit' (integer expected, got string)")
      local gate = gochan.chan()
      g:go(function(c) c:recv(5) end, gate)
      assert.has_error(function() g:limit(3) end,
        "gochan.group: limit changed while 1 tasks of the group are running")
      gate:close()
      assert.is_true(g:wait(T))
      g:limit(-1)
    end)
  end)

  describe("g:wait()", function()
    for _, where in ipairs(helper.PLACES) do
      it("waits for a task that ends later, from the " .. where, function()
        local g = gochan.group()
        local gate = gochan.chan()
        local t = g:go(function(c) return c:recv(5) end, gate)
        local opener = helper.when_blocked(where, "wait on gochan.waitgroup",
          function(c) c:close() end, gate)
        assert.same({ n = 2, true, false }, helper.within(where, function(gr, c)
          local ok = gr:wait(5)
          return ok, select(2, c:try_recv())     -- false: closed before wait returned
        end, g, gate))
        assert.same({ true, nil, false }, { t:join(T) })
        assert.is_true((opener:join(T)))
      end)
    end

    it("returns nil, 'timeout' while tasks still run, and the group goes on", function()
      local g = gochan.group()
      local gate = gochan.chan()
      g:go(function(c) c:recv(5) end, gate)
      assert.same({ nil, "timeout" }, { g:wait(0.02) })
      gate:close()
      assert.is_true(g:wait(T))
    end)

    it("returns nil, err when its own context is done first", function()
      local g = gochan.group()
      local gate = gochan.chan()
      g:go(function(c) c:recv(5) end, gate)
      local ctx = gochan.with_timeout(0.02)
      assert.same({ nil, "context deadline exceeded" }, { g:wait(ctx) })
      gate:close()
      assert.is_true(g:wait(T))
    end)
  end)

  it("crosses by reference: a task adds tasks to its own group", function()
    local g = gochan.group()
    local n = gochan.atomic(0)
    g:go(function(gr, c)
      for _ = 1, 3 do gr:go(function(x) x:add(1) end, c) end
    end, g, n)
    assert.is_true(g:wait(T))
    assert.equal(3, n:get())
  end)
end)
