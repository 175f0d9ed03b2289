-- once, rwmutex, cond and semaphore (API.md "More synchronisation"). Each
-- blocking call (o:call, rw:lock, rw:rlock, c:wait, sem:acquire) is
-- specified from the main state and from a task, a task being the other
-- party; "it is blocked now" is helper.wait_blocked, never a sleep.

local gochan = require "gochan"
local helper = require "spec.helper"

local T = 5          -- timeout (seconds) for calls that should not wait long

describe("gochan.once", function()
  it("shows its state in tostring", function()
    local o = gochan.once()
    assert.matches("^gochan%.once%(new%) ", tostring(o))
    o:call(function() end)
    assert.matches("^gochan%.once%(done%) ", tostring(o))
  end)

  describe("o:call()", function()
    it("runs fn(...) in the caller the first time and returns true", function()
      local o = gochan.once()
      local got
      assert.is_true(o:call(function(a, b) got = { a, b } end, 1, "x"))
      assert.same({ 1, "x" }, got)
    end)

    it("never runs fn again and returns false", function()
      local o = gochan.once()
      local n = 0
      assert.is_true(o:call(function() n = n + 1 end))
      assert.is_false(o:call(function() n = n + 1 end))
      assert.is_false(o:call(function() n = n + 1 end))
      assert.equal(1, n)
    end)

    it("takes a callable table", function()
      local o = gochan.once()
      local called = false
      local f = setmetatable({}, { __call = function() called = true end })
      assert.is_true(o:call(f))
      assert.is_true(called)
    end)

    for _, where in ipairs(helper.PLACES) do
      it("waits until the first call has finished, from the " .. where, function()
        local o = gochan.once()
        local release, started = gochan.chan(), gochan.chan(1)
        local first = gochan.go(function(oo, rel, st)
          return oo:call(function()
            st:send(true)
            return rel:recv(5)            -- the first call blocks here
          end)
        end, o, release, started)
        assert.is_true((started:recv(T)))
        local peer = gochan.go(function(rel, t)
          require("spec.helper").wait_blocked(t, "call on gochan.once")
          rel:send("go", 5)
          return t:join(5)
        end, release, gochan.go(function(oo) return oo:call(print) end, o))
        local r = helper.within(where, function(oo)
          local ok = oo:call(error)       -- error is never called
          return ok, tostring(oo)
        end, o)
        assert.is_false(r[1])
        assert.matches("^gochan%.once%(done%)", r[2])
        assert.same({ true, true }, { first:join(T) })
        assert.is_true((peer:join(T)))
      end)
    end

    it("with racing callers in tasks, runs fn once; the others return after it", function()
      local o = gochan.once()
      local ran, finished = gochan.atomic(), gochan.atomic()
      local tasks = {}
      for i = 1, 8 do
        tasks[i] = gochan.go(function(oo, r, f)
          local first = oo:call(function()
            r:add(1)
            -- the other seven are blocked in their call before this ends
            local deadline, waiting = gochan.now() + 5, 0
            while waiting < 7 and gochan.now() < deadline do
              gochan.sleep(0.001)
              waiting = 0
              for _, info in ipairs(gochan.tasks()) do
                if info.waiting == "call on gochan.once" then waiting = waiting + 1 end
              end
            end
            f:set(waiting)
          end)
          return first, f:get()
        end, o, ran, finished)
      end
      local firsts = 0
      for i = 1, 8 do
        local ok, first, fin = tasks[i]:join(T)
        assert.is_true(ok)
        assert.equal(7, fin)              -- returned after fn finished
        if first then firsts = firsts + 1 end
      end
      assert.equal(1, firsts)
      assert.equal(1, ran:get())
    end)

    it("propagates fn's error to the first caller only; it still counts as done", function()
      local o = gochan.once()
      assert.has_error(function()
        o:call(function() error("boom", 0) end)
      end, "boom")
      assert.is_false(o:call(error))
      local t = gochan.go(function(oo) return oo:call(error) end, o)
      assert.same({ true, false }, { t:join(T) })
    end)

    it("wakes the callers waiting on a first call that raised", function()
      local o = gochan.once()
      local release, started = gochan.chan(), gochan.chan(1)
      local first = gochan.go(function(oo, rel, st)
        return pcall(oo.call, oo, function()
          st:send(true)
          rel:recv(5)
          error("boom", 0)
        end)
      end, o, release, started)
      assert.is_true((started:recv(T)))
      local waiter = gochan.go(function(oo) return oo:call(error) end, o)
      helper.wait_blocked(waiter, "call on gochan.once")
      assert.is_true(release:send(true, T))
      assert.same({ true, false, "boom" }, { first:join(T) })
      assert.same({ true, false }, { waiter:join(T) })
    end)

    it("rejects a missing or bad fn and changes nothing", function()
      local o = gochan.once()
      assert.has_error(function() o:call() end,
        "bad argument #1 to 'call' (function expected, got no value)")
      assert.has_error(function() o:call(42) end,
        "bad argument #1 to 'call' (function expected, got number)")
      assert.has_error(function() o.call({}, print) end,
        "bad argument #1 to 'call' (gochan.once expected, got table)")
      assert.is_true(o:call(function() end))   -- still the first call
    end)
  end)
end)

describe("gochan.rwmutex", function()
  it("shows its state in tostring", function()
    local rw = gochan.rwmutex()
    assert.matches("^gochan%.rwmutex%(unlocked%) ", tostring(rw))
    rw:rlock()
    rw:rlock()
    assert.matches("^gochan%.rwmutex%(readers=2%) ", tostring(rw))
    rw:runlock()
    rw:runlock()
    rw:lock()
    assert.matches("^gochan%.rwmutex%(locked%) ", tostring(rw))
    rw:unlock()
  end)

  it("lets readers share it and keeps writers out while they hold it", function()
    local rw = gochan.rwmutex()
    rw:rlock()
    assert.is_true(rw:try_rlock())
    assert.is_false(rw:try_lock())
    rw:runlock()
    assert.is_false(rw:try_lock())
    rw:runlock()
    assert.is_true(rw:try_lock())
    assert.is_false(rw:try_lock())
    assert.is_false(rw:try_rlock())
    rw:unlock()
  end)

  it("lock and rlock return closers that unlock at scope end", function()
    local rw = gochan.rwmutex()
    do
      local _ <close> = rw:lock()
      assert.is_false(rw:try_rlock())
    end
    do
      local _ <close> = rw:rlock()
      local _ <close> = rw:rlock()
      assert.matches("readers=2", tostring(rw))
    end
    assert.is_true(rw:try_lock())
    rw:unlock()
    local ok, err = pcall(function()
      local _ <close> = rw:rlock()
      error("boom", 0)
    end)
    assert.same({ false, "boom" }, { ok, err })
    assert.is_true(rw:try_lock())
    rw:unlock()
  end)

  describe("rw:lock()", function()
    for _, where in ipairs(helper.PLACES) do
      it("waits for the readers to leave, from the " .. where, function()
        local rw = gochan.rwmutex()
        rw:rlock()
        local peer = helper.when_blocked(where, "lock on gochan.rwmutex",
                                         function(r) r:runlock() end, rw)
        assert.same({ n = 1, true }, helper.within(where, function(r)
          r:lock()
          local held = not r:try_rlock()
          r:unlock()
          return held
        end, rw))
        assert.is_true((peer:join(T)))
      end)
    end
  end)

  describe("rw:rlock()", function()
    for _, where in ipairs(helper.PLACES) do
      it("waits for the writer to leave, from the " .. where, function()
        local rw = gochan.rwmutex()
        rw:lock()
        local peer = helper.when_blocked(where, "rlock on gochan.rwmutex",
                                         function(r) r:unlock() end, rw)
        assert.same({ n = 1, true }, helper.within(where, function(r)
          r:rlock()
          local shared = r:try_rlock()
          r:runlock()
          r:runlock()
          return shared
        end, rw))
        assert.is_true((peer:join(T)))
        assert.is_true(rw:try_lock())
      end)
    end
  end)

  it("keeps new readers out while a writer waits, and lets the writer go first", function()
    local rw = gochan.rwmutex()
    local order = gochan.chan(2)
    rw:rlock()
    local writer = gochan.go(function(r, o)
      r:lock(); o:send("writer"); r:unlock()
    end, rw, order)
    helper.wait_blocked(writer, "lock on gochan.rwmutex")
    assert.is_false(rw:try_rlock())
    local reader = gochan.go(function(r, o)
      r:rlock(); o:send("reader"); r:runlock()
    end, rw, order)
    helper.wait_blocked(reader, "rlock on gochan.rwmutex")
    rw:runlock()
    assert.is_true((writer:join(T)))
    assert.is_true((reader:join(T)))
    assert.same({ "writer", "reader" }, helper.drain(order))
  end)

  it("does not starve a writer behind a stream of readers", function()
    local rw = gochan.rwmutex()
    local stop, laps = gochan.atomic(), gochan.atomic()
    local readers = {}
    for i = 1, 4 do
      readers[i] = gochan.go(function(r, s, l)
        local n = 0
        while s:get() == 0 do
          r:rlock()
          gochan.sleep(0.001)             -- readers overlap: never all out
          r:runlock()
          n = n + 1
          l:add(1)
        end
        return n
      end, rw, stop, laps)
    end
    local writer = gochan.go(function(r, l)
      local deadline = gochan.now() + 5   -- until the stream is flowing
      while l:get() < 8 and gochan.now() < deadline do gochan.sleep(0.001) end
      for _ = 1, 5 do r:lock(); r:unlock() end
      return l:get() >= 8
    end, rw, laps)
    local ok, done = writer:join(T)
    stop:set(1)
    for i = 1, 4 do assert.is_true((readers[i]:join(T))) end
    assert.same({ true, true }, { ok, done })
  end)

  it("unlock of an unlocked rwmutex raises and changes nothing", function()
    local rw = gochan.rwmutex()
    assert.has_error(function() rw:unlock() end, "unlock of unlocked rwmutex")
    assert.has_error(function() rw:runlock() end, "runlock of unlocked rwmutex")
    rw:rlock()
    assert.has_error(function() rw:unlock() end, "unlock of unlocked rwmutex")
    assert.matches("readers=1", tostring(rw))
    rw:runlock()
    rw:lock()
    assert.has_error(function() rw:runlock() end, "runlock of unlocked rwmutex")
    assert.matches("%(locked%)", tostring(rw))
    rw:unlock()
    assert.is_true(rw:try_lock())
  end)

  it("rejects a bad self", function()
    local rw = gochan.rwmutex()
    assert.has_error(function() rw.lock({}) end,
      "bad argument #1 to 'lock' (gochan.rwmutex expected, got table)")
    assert.has_error(function() rw.rlock(gochan.mutex()) end,
      "bad argument #1 to 'rlock' (gochan.rwmutex expected, got gochan.mutex)")
    local fake = { try_rlock = rw.try_rlock }
    assert.has_error(function() fake:try_rlock() end,
      "calling 'try_rlock' on bad self (gochan.rwmutex expected, got table)")
    assert.is_true(rw:try_lock())
  end)
end)

describe("gochan.cond", function()
  it("shows its lock and waiters in tostring", function()
    assert.matches("^gochan%.cond%(mutex, waiters=0%) ",
                   tostring(gochan.cond(gochan.mutex())))
    assert.matches("^gochan%.cond%(rwmutex, waiters=0%) ",
                   tostring(gochan.cond(gochan.rwmutex())))
  end)

  it("rejects anything but a mutex or an rwmutex", function()
    assert.has_error(function() gochan.cond() end,
      "bad argument #1 to 'cond' (gochan.mutex or gochan.rwmutex expected, got no value)")
    assert.has_error(function() gochan.cond(gochan.chan()) end,
      "bad argument #1 to 'cond' (gochan.mutex or gochan.rwmutex expected, got gochan.chan)")
  end)

  describe("c:wait()", function()
    for _, where in ipairs(helper.PLACES) do
      it("waits for a signal and holds the lock again, from the " .. where, function()
        local mu = gochan.mutex()
        local c = gochan.cond(mu)
        local ready = gochan.atomic()
        local peer = gochan.go(function(m, cc, r)
          m:lock(); r:set(1); m:unlock()
          cc:signal()
        end, mu, c, ready)
        assert.same({ n = 2, true, true }, helper.within(where, function(m, cc, r)
          m:lock()
          local ok = true
          while r:get() == 0 and ok do ok = cc:wait(5) end
          local held = not m:try_lock()
          m:unlock()
          return ok, held
        end, mu, c, ready))
        assert.is_true((peer:join(T)))
      end)

      it("returns false at its timeout with the lock held again, from the " .. where, function()
        local rw = gochan.rwmutex()
        local c = gochan.cond(rw)
        local r = helper.within(where, function(l, cc)
          l:lock()
          local t0 = gochan.now()
          local ok = cc:wait(0.05)
          local dt = gochan.now() - t0
          local held = not l:try_rlock()
          l:unlock()
          return ok, dt, held
        end, rw, c)
        assert.is_false(r[1])
        helper.assert_waited(r[2], 0.05)
        assert.is_true(r[3])
      end)
    end

    it("unlocks while it waits", function()
      local mu = gochan.mutex()
      local c = gochan.cond(mu)
      local t = gochan.go(function(m, cc)
        m:lock(); local ok = cc:wait(5); m:unlock(); return ok
      end, mu, c)
      helper.wait_blocked(t, "wait on gochan.cond")
      assert.is_true(mu:try_lock())       -- free while it waits
      c:signal()
      mu:unlock()
      assert.same({ true, true }, { t:join(T) })
    end)

    it("raises when its lock is not locked, and changes nothing", function()
      local mu = gochan.mutex()
      local c = gochan.cond(mu)
      assert.has_error(function() c:wait(1) end, "cond wait with unlocked mutex")
      assert.matches("waiters=0", tostring(c))
      assert.is_true(mu:try_lock())
      mu:unlock()
      local rw = gochan.rwmutex()
      local rc = gochan.cond(rw)
      rw:rlock()                         -- a read lock is not its lock
      assert.has_error(function() rc:wait(1) end, "cond wait with unlocked rwmutex")
      assert.matches("readers=1", tostring(rw))
      rw:runlock()
      local t = gochan.go(function(cc)
        return pcall(cc.wait, cc, 1)
      end, c)
      assert.same({ true, false, "cond wait with unlocked mutex" }, { t:join(T) })
    end)

    it("rejects a bad timeout and changes nothing", function()
      local mu = gochan.mutex()
      local c = gochan.cond(mu)
      mu:lock()
      assert.has_error(function() c:wait(-1) end,
        "bad argument #1 to 'wait' (non-negative number expected, got number)")
      assert.has_error(function() c:wait("soon") end,
        "bad argument #1 to 'wait' (number or gochan.context expected, got string)")
      assert.is_false(mu:try_lock())      -- still held
      mu:unlock()
    end)
  end)

  describe("c:signal() and c:broadcast()", function()
    it("signal wakes one waiter, broadcast the rest", function()
      local mu = gochan.mutex()
      local c = gochan.cond(mu)
      local woke = gochan.chan(3)
      local tasks = {}
      for i = 1, 3 do
        tasks[i] = gochan.go(function(m, cc, w, id)
          m:lock()
          local ok = cc:wait(5)
          m:unlock()
          w:send(id)
          return ok
        end, mu, c, woke, i)
        helper.wait_blocked(tasks[i], "wait on gochan.cond")
      end
      c:signal()
      local first = woke:recv(T)
      assert.equal(1, first)              -- FIFO: the first to wait
      assert.is_nil((woke:recv(0.05)))    -- and only one
      assert.matches("waiters=2", tostring(c))
      c:broadcast()
      local rest = { (woke:recv(T)), (woke:recv(T)) }
      table.sort(rest)
      assert.same({ 2, 3 }, rest)
      for i = 1, 3 do assert.same({ true, true }, { tasks[i]:join(T) }) end
    end)

    it("does nothing with nobody waiting", function()
      local c = gochan.cond(gochan.mutex())
      c:signal()
      c:broadcast()
      assert.matches("waiters=0", tostring(c))
    end)

    it("works with an rwmutex's write lock", function()
      local rw = gochan.rwmutex()
      local c = gochan.cond(rw)
      local t = gochan.go(function(r, cc)
        r:lock(); local ok = cc:wait(5); r:unlock(); return ok
      end, rw, c)
      helper.wait_blocked(t, "wait on gochan.cond")
      assert.is_true(rw:try_rlock())     -- unlocked while it waits
      rw:runlock()
      c:broadcast()
      assert.same({ true, true }, { t:join(T) })
    end)
  end)
end)

describe("gochan.semaphore", function()
  it("shows its size and what is held in tostring", function()
    local s = gochan.semaphore(4)
    s:acquire(3)
    assert.matches("^gochan%.semaphore%(size=4, held=3%) ", tostring(s))
  end)

  it("rejects a missing or negative size", function()
    assert.has_error(function() gochan.semaphore() end,
      "bad argument #1 to 'semaphore' (number expected, got no value)")
    assert.has_error(function() gochan.semaphore(-1) end,
      "bad argument #1 to 'semaphore' (non-negative integer expected, got number)")
    assert.has_error(function() gochan.semaphore(1.5) end,
      "bad argument #1 to 'semaphore' (number has no integer representation)")
  end)

  describe("sem:acquire()", function()
    it("takes 1 by default, k when given", function()
      local s = gochan.semaphore(3)
      assert.is_true(s:acquire())
      assert.is_true(s:acquire(2))
      assert.is_false(s:try_acquire())
      s:release(3)
      assert.is_true(s:try_acquire(3))
    end)

    it("succeeds at once for k = 0, also when full and others wait", function()
      local s = gochan.semaphore(1)
      s:acquire()
      local t = gochan.go(function(ss) return ss:acquire(1, 5) end, s)
      helper.wait_blocked(t, "acquire on gochan.semaphore")
      local dt, res = helper.elapsed(s.acquire, s, 0)
      assert.same({ n = 1, true }, res)
      helper.assert_prompt(dt)
      assert.is_true(s:try_acquire(0))
      s:release()
      assert.same({ true, true }, { t:join(T) })
      s:release()
    end)

    for _, where in ipairs(helper.PLACES) do
      it("waits for a release, from the " .. where, function()
        local s = gochan.semaphore(2)
        s:acquire(2)
        local peer = gochan.go(function(ss) ss:release(2) end, s)
        assert.same({ n = 2, true, 2 }, helper.within(where, function(ss)
          local ok = ss:acquire(2, 5)
          local held = tonumber(tostring(ss):match("held=(%d+)"))
          ss:release(2)
          return ok, held
        end, s))
        assert.is_true((peer:join(T)))
      end)

      it("returns false at its timeout having taken nothing, from the " .. where, function()
        local s = gochan.semaphore(2)
        s:acquire()
        local r = helper.within(where, function(ss)
          local t0 = gochan.now()
          local ok = ss:acquire(2, 0.05)
          return ok, gochan.now() - t0, tostring(ss)
        end, s)
        assert.is_false(r[1])
        helper.assert_waited(r[2], 0.05)
        assert.matches("held=1", r[3])
      end)
    end

    it("is FIFO with weights: a large request at the head holds up small ones", function()
      local s = gochan.semaphore(4)
      local order = gochan.chan(2)
      s:acquire(3)                        -- 1 free
      local big = gochan.go(function(ss, o)
        local ok = ss:acquire(4, 5); o:send("big"); return ok
      end, s, order)
      helper.wait_blocked(big, "acquire on gochan.semaphore")
      local small = gochan.go(function(ss, o)
        local ok = ss:acquire(1, 5); o:send("small"); return ok
      end, s, order)
      helper.wait_blocked(small, "acquire on gochan.semaphore")
      assert.is_false(s:try_acquire(1))   -- 1 is free, but others wait
      s:release(3)
      assert.same({ true, true }, { big:join(T) })
      assert.matches("held=4", tostring(s))
      s:release(4)
      assert.same({ true, true }, { small:join(T) })
      assert.same({ "big", "small" }, helper.drain(order))
      s:release(1)
    end)

    it("lets the smaller requests in when the head gives up", function()
      local s = gochan.semaphore(4)
      s:acquire(2)
      local big = gochan.go(function(ss) return ss:acquire(4, 0.1) end, s)
      helper.wait_blocked(big, "acquire on gochan.semaphore")
      local small = gochan.go(function(ss) return ss:acquire(2, 5) end, s)
      helper.wait_blocked(small, "acquire on gochan.semaphore")
      assert.same({ true, false }, { big:join(T) })
      assert.same({ true, true }, { small:join(T) })
      assert.matches("held=4", tostring(s))
    end)

    it("raises for more than its size, and changes nothing", function()
      local s = gochan.semaphore(2)
      assert.has_error(function() s:acquire(3) end,
        "semaphore acquire of more than its size")
      assert.has_error(function() s:acquire(3, 1) end,
        "semaphore acquire of more than its size")
      assert.is_false(s:try_acquire(3))
      assert.matches("held=0", tostring(s))
      local t = gochan.go(function(ss) return pcall(ss.acquire, ss, 3) end, s)
      assert.same({ true, false, "semaphore acquire of more than its size" },
                  { t:join(T) })
    end)

    it("rejects a negative k or a bad timeout, and changes nothing", function()
      local s = gochan.semaphore(2)
      assert.has_error(function() s:acquire(-1) end,
        "bad argument #1 to 'acquire' (non-negative integer expected, got number)")
      assert.has_error(function() s:try_acquire(-1) end,
        "bad argument #1 to 'try_acquire' (non-negative integer expected, got number)")
      assert.has_error(function() s:acquire(1, -1) end,
        "bad argument #2 to 'acquire' (non-negative number expected, got number)")
      assert.has_error(function() s:acquire(1, {}) end,
        "bad argument #2 to 'acquire' (number or gochan.context expected, got table)")
      assert.has_error(function() s:acquire("x") end,
        "bad argument #1 to 'acquire' (number expected, got string)")
      assert.matches("held=0", tostring(s))
    end)
  end)

  describe("sem:release()", function()
    it("raises when releasing more than held, and changes nothing", function()
      local s = gochan.semaphore(3)
      assert.has_error(function() s:release() end,
        "semaphore released more than held")
      s:acquire(2)
      assert.has_error(function() s:release(3) end,
        "semaphore released more than held")
      assert.matches("held=2", tostring(s))
      assert.has_error(function() s:release(-1) end,
        "bad argument #1 to 'release' (non-negative integer expected, got number)")
      s:release(2)
      assert.matches("held=0", tostring(s))
    end)
  end)
end)

describe("once, rwmutex, cond and semaphore", function()
  it("cross to tasks by reference", function()
    local o, rw = gochan.once(), gochan.rwmutex()
    local c, s = gochan.cond(rw), gochan.semaphore(2)
    local t = gochan.go(function(oo, r, cc, ss)
      oo:call(function() end)
      r:lock()
      ss:acquire(2)
      return oo, r, cc, ss
    end, o, rw, c, s)
    local res = { t:join(T) }
    assert.is_true(res[1])
    assert.is_true(rawequal(o, res[2]) and rawequal(rw, res[3])
                   and rawequal(c, res[4]) and rawequal(s, res[5]))
    assert.is_false(o:call(error))
    assert.is_false(rw:try_rlock())
    rw:unlock()
    assert.is_false(s:try_acquire())
    s:release(2)
  end)
end)

-- The context forms (API.md "Cancellation: contexts"): each gives up when
-- its context is done, having taken nothing, with the documented shape.
describe("once, rwmutex, cond and semaphore with a context", function()
  for _, where in ipairs(helper.PLACES) do
    it("rw:lock(ctx) and rw:rlock(ctx) give up with nil, err, from the " .. where, function()
      local rw = gochan.rwmutex()
      rw:lock()
      local r = helper.within(where, function(l)
        local ctx = gochan.with_timeout(0.05)
        local a, ea = l:lock(ctx)
        local b, eb = l:rlock(ctx)
        return a, ea, b, eb
      end, rw)
      assert.same({ n = 4, nil, "context deadline exceeded", nil,
                    "context deadline exceeded" }, r)
      assert.matches("%(locked%)", tostring(rw))
      rw:unlock()
      assert.is_true(rw:try_lock())       -- nothing else took it
    end)

    it("sem:acquire(k, ctx) and sem:acquire(ctx) give up with false, err, from the " .. where, function()
      local s = gochan.semaphore(2)
      s:acquire(2)
      local ctx, cancel = gochan.with_cancel()
      local peer = helper.when_blocked(where, "acquire on gochan.semaphore", cancel)
      local r = helper.within(where, function(ss, x)
        local a, ea = ss:acquire(2, x)
        local b, eb = ss:acquire(x)
        return a, ea, b, eb
      end, s, ctx)
      assert.is_true((peer:join(T)))
      assert.same({ n = 4, false, "context canceled", false, "context canceled" }, r)
      assert.matches("held=2", tostring(s))
    end)

    it("c:wait(ctx) gives up with false, err and holds the lock again, from the " .. where, function()
      local mu = gochan.mutex()
      local c = gochan.cond(mu)
      local r = helper.within(where, function(m, cc)
        m:lock()
        local ok, err = cc:wait((gochan.with_timeout(0.05)))
        local held = not m:try_lock()
        m:unlock()
        return ok, err, held
      end, mu, c)
      assert.same({ n = 3, false, "context deadline exceeded", true }, r)
      assert.matches("waiters=0", tostring(c))
    end)
  end

  it("a context done on entry gives up at once, even when the call could complete", function()
    local ctx, cancel = gochan.with_cancel()
    cancel()
    local rw, s = gochan.rwmutex(), gochan.semaphore(1)
    assert.same({ nil, "context canceled" }, { rw:lock(ctx) })
    assert.same({ nil, "context canceled" }, { rw:rlock(ctx) })
    assert.same({ false, "context canceled" }, { s:acquire(1, ctx) })
    assert.is_true(rw:try_lock())
    assert.is_true(s:try_acquire())
    local mu = gochan.mutex()
    mu:lock()
    assert.same({ false, "context canceled" }, { gochan.cond(mu):wait(ctx) })
    assert.is_false(mu:try_lock())       -- never unlocked
  end)

  it("a semaphore head that gives up through its context lets smaller requests in", function()
    local s = gochan.semaphore(4)
    s:acquire(2)
    local ctx, cancel = gochan.with_cancel()
    local big = gochan.go(function(ss, cx) return ss:acquire(4, cx) end, s, ctx)
    helper.wait_blocked(big, "acquire on gochan.semaphore")
    local small = gochan.go(function(ss) return ss:acquire(2, 5) end, s)
    helper.wait_blocked(small, "acquire on gochan.semaphore")
    cancel()
    assert.same({ true, false, "context canceled" }, { big:join(T) })
    assert.same({ true, true }, { small:join(T) })
    assert.matches("held=4", tostring(s))
  end)

  it("a writer that gives up through its context lets the readers it held back in", function()
    local rw = gochan.rwmutex()
    rw:rlock()
    local ctx, cancel = gochan.with_cancel()
    local writer = gochan.go(function(r, cx) return r:lock(cx) end, rw, ctx)
    helper.wait_blocked(writer, "lock on gochan.rwmutex")
    local reader = gochan.go(function(r)
      r:rlock(); r:runlock(); return true
    end, rw)
    helper.wait_blocked(reader, "rlock on gochan.rwmutex")
    cancel()
    assert.same({ true, nil, "context canceled" }, { writer:join(T) })
    assert.same({ true, true }, { reader:join(T) })
    rw:runlock()
    assert.is_true(rw:try_lock())
  end)

  it("rejects what is not a context where only a context is taken", function()
    local rw = gochan.rwmutex()
    assert.has_error(function() rw:lock(1) end,
      "bad argument #1 to 'lock' (gochan.context expected, got number)")
    assert.has_error(function() rw:rlock("x") end,
      "bad argument #1 to 'rlock' (gochan.context expected, got string)")
    assert.is_true(rw:try_lock())
  end)
end)

describe("once, rwmutex, cond and semaphore in a canceled task", function()
  it("raise 'canceled' in the call the task is blocked in", function()
    local rw, s, o = gochan.rwmutex(), gochan.semaphore(1), gochan.once()
    rw:lock()
    s:acquire()
    local release, started = gochan.chan(), gochan.chan(1)
    local first = gochan.go(function(oo, rel, st)
      return oo:call(function() st:send(true); rel:recv(5) end)
    end, o, release, started)
    assert.is_true((started:recv(T)))
    local calls = {
      { function(r) return r:lock() end, "lock on gochan.rwmutex" },
      { function(r) return r:rlock() end, "rlock on gochan.rwmutex" },
      { function(_, ss) return ss:acquire(1, 60) end, "acquire on gochan.semaphore" },
      { function(_, _, oo) return oo:call(print) end, "call on gochan.once" },
    }
    for _, call in ipairs(calls) do
      local t = gochan.go(call[1], rw, s, o)
      helper.wait_blocked(t, call[2])
      t:cancel()
      local ok, err = t:join(T)
      assert.is_false(ok)
      assert.equal("canceled", err)
    end
    assert.is_true(release:send(true, T))
    assert.same({ true, true }, { first:join(T) })
    assert.matches("%(locked%)", tostring(rw))    -- nothing taken
    assert.matches("held=1", tostring(s))
    rw:unlock()
    s:release()
  end)

  it("c:wait holds the lock again when it raises 'canceled'", function()
    local mu = gochan.mutex()
    local c = gochan.cond(mu)
    local t = gochan.go(function(m, cc)
      local _ <close> = m:lock()
      while true do cc:wait() end
    end, mu, c)
    helper.wait_blocked(t, "wait on gochan.cond")
    mu:lock()                             -- the relock must wait for this
    t:cancel()
    helper.wait_blocked(t, "lock on gochan.mutex")
    mu:unlock()
    local ok, err = t:join(T)
    assert.is_false(ok)
    assert.equal("canceled", err)         -- not 'unlock of unlocked mutex'
    assert.equal("canceled", t:status())
    assert.is_true(mu:try_lock())         -- its closer unlocked it
  end)
end)
