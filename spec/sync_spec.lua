-- WaitGroup, mutex, atomic and defer (API.md "Synchronisation"; wg:go is in
-- task_spec.lua). wg:wait() and mu:lock() are specified from the main state
-- and from a task, a task being the other party.

local gochan = require "gochan"
local helper = require "spec.helper"

local T = 5          -- timeout (seconds) for calls that should not wait long

describe("gochan.waitgroup", function()
  it("starts at zero: wait returns true at once", function()
    local wg = gochan.waitgroup()
    local dt, res = helper.elapsed(wg.wait, wg, 0.5)
    assert.same({ n = 1, true }, res)
    helper.assert_prompt(dt)
  end)

  it("shows its type in tostring", function()
    assert.matches("^gochan%.waitgroup", tostring(gochan.waitgroup()))
  end)

  describe("wg:add()", function()
    it("adds 1 by default", function()
      local wg = gochan.waitgroup()
      wg:add()
      assert.is_false(wg:wait(0))
      wg:done()
      assert.is_true(wg:wait(0))
    end)

    it("adds n, and a negative n counts down", function()
      local wg = gochan.waitgroup()
      wg:add(3)
      wg:add(-2)
      assert.is_false(wg:wait(0))
      wg:add(-1)
      assert.is_true(wg:wait(0))
    end)

    it("accepts zero", function()
      local wg = gochan.waitgroup()
      wg:add(0)
      assert.is_true(wg:wait(0))
    end)

    it("raises 'negative WaitGroup counter' and leaves the counter as it was", function()
      local wg = gochan.waitgroup()
      wg:add(2)
      assert.has_error(function() wg:add(-3) end, "negative WaitGroup counter")
      -- still 2: two done() calls to reach zero
      wg:done()
      assert.is_false(wg:wait(0))
      wg:done()
      assert.is_true(wg:wait(0))
    end)

    it("raises below zero on a fresh waitgroup", function()
      local wg = gochan.waitgroup()
      assert.has_error(function() wg:add(-1) end, "negative WaitGroup counter")
      assert.is_true(wg:wait(0))
      wg:add(1)
      assert.is_false(wg:wait(0))
    end)

    it("rejects a non-integer n and leaves the counter unchanged", function()
      local wg = gochan.waitgroup()
      wg:add(1)
      assert.has_error(function() wg:add("x") end,
        "bad argument #1 to 'add' (number expected, got string)")
      assert.has_error(function() wg:add(1.5) end,
        "bad argument #1 to 'add' (number has no integer representation)")
      assert.has_error(function() wg:add(0 / 0) end,
        "bad argument #1 to 'add' (number has no integer representation)")
      wg:done()
      assert.is_true(wg:wait(0))
    end)

    it("rejects a bad self", function()
      local wg = gochan.waitgroup()
      assert.has_error(function() wg.add({}, 1) end,
        "bad argument #1 to 'add' (gochan.waitgroup expected, got table)")
      assert.has_error(function() wg.add(gochan.chan(), 1) end,
        "bad argument #1 to 'add' (gochan.waitgroup expected, got gochan.chan)")
      local fake = { add = wg.add }
      assert.has_error(function() fake:add(1) end,
        "calling 'add' on bad self (gochan.waitgroup expected, got table)")
      assert.is_true(wg:wait(0))
    end)
  end)

  describe("wg:done()", function()
    it("counts down by one", function()
      local wg = gochan.waitgroup()
      wg:add(2)
      wg:done()
      assert.is_false(wg:wait(0))
      wg:done()
      assert.is_true(wg:wait(0))
    end)

    it("raises 'negative WaitGroup counter' at zero and stays at zero", function()
      local wg = gochan.waitgroup()
      assert.has_error(function() wg:done() end, "negative WaitGroup counter")
      assert.is_true(wg:wait(0))
      wg:add(1)
      assert.is_false(wg:wait(0))
    end)

    it("rejects a bad self", function()
      local wg = gochan.waitgroup()
      assert.has_error(function() wg.done(1) end,
        "bad argument #1 to 'done' (gochan.waitgroup expected, got number)")
    end)
  end)

  describe("wg:wait()", function()
    for _, where in ipairs(helper.PLACES) do
      describe("from the " .. where, function()
        it("returns true once a task's done() brings it to zero", function()
          local wg = gochan.waitgroup()
          wg:add(1)
          local peer = gochan.go(function(w) w:done() end, wg)
          assert.same({ n = 1, true }, helper.within(where, function(w)
            return w:wait(T)
          end, wg))
          assert.is_true((peer:join(T)))
        end)

        it("returns false after its timeout above zero", function()
          local wg = gochan.waitgroup()
          wg:add(1)
          local r = helper.within(where, function(w)
            local t0 = gochan.now()
            local done = w:wait(0.05)
            return done, gochan.now() - t0
          end, wg)
          assert.is_false(r[1])
          helper.assert_waited(r[2], 0.05)
          assert.is_false(wg:wait(0))             -- still above zero
          wg:done()
        end)
      end)
    end

    it("returns false after the timeout while the counter is above zero", function()
      local wg = gochan.waitgroup()
      wg:add()
      local dt, res = helper.elapsed(wg.wait, wg, 0.05)
      assert.same({ n = 1, false }, res)
      helper.assert_waited(dt, 0.05)
    end)

    it("returns false at once with a zero timeout", function()
      local wg = gochan.waitgroup()
      wg:add()
      local dt, res = helper.elapsed(wg.wait, wg, 0)
      assert.same({ n = 1, false }, res)
      helper.assert_prompt(dt)
    end)

    it("returns true at once without a timeout when the counter is zero", function()
      local wg = gochan.waitgroup()
      wg:add(); wg:done()
      assert.is_true(wg:wait())
    end)

    it("rejects a timeout that is not a non-negative number", function()
      local wg = gochan.waitgroup()
      wg:add()
      assert.has_error(function() wg:wait("x") end,
        "bad argument #1 to 'wait' (number or gochan.context expected, got string)")
      assert.has_error(function() wg:wait(-1) end,
        "bad argument #1 to 'wait' (non-negative number expected, got number)")
      assert.has_error(function() wg:wait(0 / 0) end,
        "bad argument #1 to 'wait' (number expected, got nan)")
      assert.is_false(wg:wait(0))
      wg:done()
      assert.is_true(wg:wait(0))
    end)

    it("rejects a bad self", function()
      local wg = gochan.waitgroup()
      assert.has_error(function() wg.wait(nil, 0) end,
        "bad argument #1 to 'wait' (gochan.waitgroup expected, got nil)")
    end)
  end)
end)

describe("gochan.mutex", function()
  it("starts unlocked", function()
    assert.is_true(gochan.mutex():try_lock())
  end)

  it("shows its type in tostring", function()
    assert.matches("^gochan%.mutex", tostring(gochan.mutex()))
  end)

  describe("mu:lock() and mu:unlock()", function()
    for _, where in ipairs(helper.PLACES) do
      it("lock() waits for a task's unlock, from the " .. where, function()
        local mu = gochan.mutex()
        mu:lock()
        local peer = gochan.go(function(m) m:unlock() end, mu)
        assert.same({ n = 1, true }, helper.within(where, function(m)
          m:lock()
          local held = not m:try_lock()
          m:unlock()
          return held
        end, mu))
        assert.is_true((peer:join(T)))
        assert.is_true(mu:try_lock())
        mu:unlock()
      end)
    end

    it("lock and unlock", function()
      local mu = gochan.mutex()
      mu:lock()
      assert.is_false(mu:try_lock())
      mu:unlock()
      assert.is_true(mu:try_lock())
      mu:unlock()
    end)

    it("unlock at the end of a scope through the closer lock returns", function()
      local mu = gochan.mutex()
      do
        local _ <close> = mu:lock()
        assert.is_false(mu:try_lock())
      end
      assert.is_true(mu:try_lock())
      mu:unlock()
    end)

    it("unlock at the end of a scope left by an error", function()
      local mu = gochan.mutex()
      local ok, err = pcall(function()
        local _ <close> = mu:lock()
        error("boom", 0)
      end)
      assert.is_false(ok)
      assert.equal("boom", err)
      assert.is_true(mu:try_lock())
      mu:unlock()
    end)

    it("lock can be called without using the closer", function()
      local mu = gochan.mutex()
      mu:lock()
      collectgarbage()
      collectgarbage()
      assert.is_false(mu:try_lock())
      mu:unlock()
    end)

    it("unlocking an unlocked mutex raises and leaves it unlocked", function()
      local mu = gochan.mutex()
      assert.has_error(function() mu:unlock() end, "unlock of unlocked mutex")
      assert.is_true(mu:try_lock())
      mu:unlock()
      assert.has_error(function() mu:unlock() end, "unlock of unlocked mutex")
      assert.is_true(mu:try_lock())
    end)

    -- task spec later: lock() blocks while another task holds the mutex.

    it("reject a bad self", function()
      local mu = gochan.mutex()
      assert.has_error(function() mu.lock({}) end,
        "bad argument #1 to 'lock' (gochan.mutex expected, got table)")
      assert.has_error(function() mu.unlock(gochan.chan()) end,
        "bad argument #1 to 'unlock' (gochan.mutex expected, got gochan.chan)")
      local fake = { unlock = mu.unlock }
      assert.has_error(function() fake:unlock() end,
        "calling 'unlock' on bad self (gochan.mutex expected, got table)")
      assert.is_true(mu:try_lock())
    end)
  end)

  describe("mu:try_lock()", function()
    it("returns true and locks when unlocked, false when locked", function()
      local mu = gochan.mutex()
      assert.is_true(mu:try_lock())
      assert.is_false(mu:try_lock())
      mu:unlock()
      assert.is_true(mu:try_lock())
    end)

    it("rejects a bad self", function()
      local mu = gochan.mutex()
      assert.has_error(function() mu.try_lock(1) end,
        "bad argument #1 to 'try_lock' (gochan.mutex expected, got number)")
    end)
  end)
end)

describe("gochan.atomic", function()
  it("starts at 0 by default", function()
    local a = gochan.atomic()
    assert.equal(0, a:get())
    assert.equal("integer", math.type(a:get()))
  end)

  it("starts at the given integer", function()
    assert.equal(-7, gochan.atomic(-7):get())
    assert.equal(math.maxinteger, gochan.atomic(math.maxinteger):get())
    assert.equal(3, gochan.atomic(3.0):get())
  end)

  it("rejects a start value that is not an integer", function()
    assert.has_error(function() gochan.atomic(1.5) end,
      "bad argument #1 to 'atomic' (number has no integer representation)")
    assert.has_error(function() gochan.atomic("x") end,
      "bad argument #1 to 'atomic' (number expected, got string)")
  end)

  it("shows its type in tostring", function()
    assert.matches("^gochan%.atomic", tostring(gochan.atomic()))
  end)

  describe("a:set()", function()
    it("stores the value", function()
      local a = gochan.atomic()
      a:set(42)
      assert.equal(42, a:get())
      a:set(math.mininteger)
      assert.equal(math.mininteger, a:get())
    end)

    it("rejects a non-integer and keeps the value", function()
      local a = gochan.atomic(5)
      assert.has_error(function() a:set(1.5) end,
        "bad argument #1 to 'set' (number has no integer representation)")
      assert.has_error(function() a:set("x") end,
        "bad argument #1 to 'set' (number expected, got string)")
      assert.has_error(function() a:set() end,
        "bad argument #1 to 'set' (number expected, got no value)")
      assert.equal(5, a:get())
    end)
  end)

  describe("a:add()", function()
    it("adds and returns the new value", function()
      local a = gochan.atomic(10)
      assert.equal(13, a:add(3))
      assert.equal(8, a:add(-5))
      assert.equal(8, a:get())
      assert.equal("integer", math.type(a:add(2.0)))
    end)

    it("wraps around on overflow, as integers do", function()
      local a = gochan.atomic(math.maxinteger)
      assert.equal(math.mininteger, a:add(1))
    end)

    it("rejects a non-integer and keeps the value", function()
      local a = gochan.atomic(5)
      assert.has_error(function() a:add(0.5) end,
        "bad argument #1 to 'add' (number has no integer representation)")
      assert.has_error(function() a:add({}) end,
        "bad argument #1 to 'add' (number expected, got table)")
      assert.has_error(function() a:add() end,
        "bad argument #1 to 'add' (number expected, got no value)")
      assert.equal(5, a:get())
    end)
  end)

  describe("a:cas()", function()
    it("swaps and returns true when the value is old", function()
      local a = gochan.atomic(1)
      assert.is_true(a:cas(1, 2))
      assert.equal(2, a:get())
    end)

    it("returns false and keeps the value when it is not old", function()
      local a = gochan.atomic(1)
      assert.is_false(a:cas(5, 2))
      assert.equal(1, a:get())
    end)

    it("rejects non-integers and keeps the value", function()
      local a = gochan.atomic(1)
      assert.has_error(function() a:cas(1.5, 2) end,
        "bad argument #1 to 'cas' (number has no integer representation)")
      assert.has_error(function() a:cas(1, "x") end,
        "bad argument #2 to 'cas' (number expected, got string)")
      assert.has_error(function() a:cas(1) end,
        "bad argument #2 to 'cas' (number expected, got no value)")
      assert.equal(1, a:get())
    end)
  end)

  it("rejects a bad self in every method", function()
    local a = gochan.atomic(9)
    assert.has_error(function() a.get({}) end,
      "bad argument #1 to 'get' (gochan.atomic expected, got table)")
    assert.has_error(function() a.set(gochan.mutex(), 1) end,
      "bad argument #1 to 'set' (gochan.atomic expected, got gochan.mutex)")
    assert.has_error(function() a.add(1, 1) end,
      "bad argument #1 to 'add' (gochan.atomic expected, got number)")
    local fake = { cas = a.cas }
    assert.has_error(function() fake:cas(9, 1) end,
      "calling 'cas' on bad self (gochan.atomic expected, got table)")
    assert.equal(9, a:get())
  end)
end)

describe("gochan.defer", function()
  it("calls fn(...) when the scope ends", function()
    local calls = {}
    do
      local _ <close> = gochan.defer(function(...) calls[#calls + 1] = table.pack(...) end,
        "a", nil, 3)
      assert.same({}, calls)
    end
    assert.same({ { n = 3, "a", nil, 3 } }, calls)
  end)

  it("calls fn when the scope is left by an error, and the error goes on", function()
    local called = false
    local ok, err = pcall(function()
      local _ <close> = gochan.defer(function() called = true end)
      error("boom", 0)
    end)
    assert.is_false(ok)
    assert.equal("boom", err)
    assert.is_true(called)
  end)

  it("runs deferred calls in reverse order, as Go does", function()
    local order = {}
    do
      local _ <close> = gochan.defer(function() order[#order + 1] = 1 end)
      local _ <close> = gochan.defer(function() order[#order + 1] = 2 end)
    end
    assert.same({ 2, 1 }, order)
  end)

  it("calls fn when the scope is left by return or break", function()
    local n = 0
    local function f()
      local _ <close> = gochan.defer(function() n = n + 1 end)
      return "r"
    end
    assert.equal("r", f())
    for _ = 1, 3 do  -- luacheck: ignore 512
      local _ <close> = gochan.defer(function() n = n + 1 end)
      break
    end
    assert.equal(2, n)
  end)

  it("rejects fn that is not a function", function()
    assert.has_error(function() gochan.defer(1) end,
      "bad argument #1 to 'defer' (function expected, got number)")
    assert.has_error(function() gochan.defer() end,
      "bad argument #1 to 'defer' (function expected, got no value)")
  end)
end)
