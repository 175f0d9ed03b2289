-- Tasks (API.md "Tasks", "Synchronisation" wg:go, "Runtime" gochan.tasks),
-- used from the main state and from inside tasks. Asserts inside a task do
-- not reach busted: tasks return what they saw and the spec checks join().
--
-- Every task a spec starts ends within the spec (every blocking call has a
-- timeout), and after_each checks that gochan.tasks() is empty again.
-- Error closures never 'return' the call: a tail call loses the function's
-- name in the message.

local gochan = require "gochan"
local helper = require "spec.helper"

local T = 5          -- timeout (seconds) for calls that should not wait long

local settle = helper.settle   -- (the leaked-task check is in spec/helper.lua)

local function pack (...) return { n = select("#", ...), ... } end

-- Runs fn(...) as a task and returns what join returned (packed).
local function run (fn, ...)
  local t = gochan.go(fn, ...)
  return pack(t:join(T))
end

describe("gochan.go", function()
  it("returns a task handle", function()
    local t = gochan.go(function() end)
    assert.equal("userdata", type(t))
    assert.equal("gochan.task", getmetatable(t).__name)
    assert.same({ n = 1, true }, pack(t:join(T)))
  end)

  it("passes arguments and returns results of every plain type", function()
    local res = run(function(a, b, c, d, e)
      return a + 1, b * 2, c .. "!", d, e, math.type(a), math.type(b)
    end, 41, 1.5, "hi", true, nil)
    assert.same({ n = 8, true, 42, 3.0, "hi!", true, nil, "integer", "float" }, res)
    assert.equal("float", math.type(res[3]))
  end)

  it("carries binary strings, extreme numbers and nil holes both ways", function()
    local bin = "a\0b\255" .. string.rep("x", 100000)
    local res = run(function(s, mi, mx, inf)
      return s, #s, mi, mx, inf, -inf, nil, 0 / 0
    end, bin, math.mininteger, math.maxinteger, math.huge)
    assert.equal(true, res[1])
    assert.equal(bin, res[2])
    assert.equal(#bin, res[3])
    assert.equal(math.mininteger, res[4])
    assert.equal(math.maxinteger, res[5])
    assert.equal(math.huge, res[6])
    assert.equal(-math.huge, res[7])
    assert.is_nil(res[8])
    assert.is_true(res[9] ~= res[9])        -- NaN
    assert.equal(9, res.n)
  end)

  it("copies tables, keeping shared references and cycles", function()
    local shared = { 1, 2 }
    local arg = { a = shared, b = shared, nested = { deep = { "x" } } }
    arg.self = arg
    local res = run(function(t)
      t.added = true
      return t, t.a == t.b, t.self == t
    end, arg)
    assert.is_true(res[1])
    local t = res[2]
    assert.are_not.equal(arg, t)             -- a copy, not the same table
    assert.is_nil(arg.added)
    assert.is_true(t.added)
    assert.same({ 1, 2 }, t.a)
    assert.equal(t.a, t.b)
    assert.equal(t, t.self)
    assert.equal("x", t.nested.deep[1])
    assert.is_true(res[3])
    assert.is_true(res[4])
  end)

  it("carries upvalues of the function, including functions with upvalues", function()
    local base = 10
    local tbl = { k = "v" }
    local function add (x) return x + base end
    local res = run(function(n) return add(n), tbl.k end, 5)
    assert.same({ n = 3, true, 15, "v" }, res)
  end)

  it("keeps two closures sharing an upvalue sharing it in the task", function()
    local count = 0
    local function inc () count = count + 1 end
    local function get () return count end
    local res = run(function() inc() inc() return get() end)
    assert.same({ n = 2, true, 2 }, res)
    assert.equal(0, count)                   -- the task had its own copy
  end)

  it("passes a function argument that runs in the task", function()
    local res = run(function(f, x) return f(x) end,
                    function(x) return x * x end, 7)
    assert.same({ n = 2, true, 49 }, res)
  end)

  it("sends one function many times with its upvalues as they are at each call", function()
    -- (the second go of the same function reuses its dumped chunk)
    local n = 0
    local function f (k) return n, k end
    for i = 1, 6 do
      n = i * 10
      assert.same({ n = 3, true, i * 10, i }, pack(gochan.go(f, i):join(T)))
    end
    for i = 1, 3 do                        -- fresh closures of one prototype
      local m = i
      local g = function() return m end
      assert.same({ n = 2, true, i }, pack(gochan.go(g):join(T)))
      assert.same({ n = 2, true, i }, pack(gochan.go(g):join(T)))
    end
  end)

  it("runs the function on its state's main thread, which is not yieldable to Lua", function()
    -- resumed as a coroutine by the scheduler, but to the task's code it is
    -- a main thread, as in plain Lua (regress/9-unclear-errors_spec.lua)
    local res = run(function()
      local co, ismain = coroutine.running()
      local inner = coroutine.wrap(function() return coroutine.isyieldable() end)()
      return type(co), ismain, coroutine.isyieldable(), inner
    end)
    assert.same({ n = 5, true, "thread", true, false, true }, res)
  end)

  it("gives the task fresh globals", function()
    _G.gochan_spec_global = "main"
    local res = run(function()
      local seen = gochan_spec_global          -- luacheck: ignore
      gochan_spec_global = "task"              -- luacheck: ignore
      return seen, type(string.format), type(io.write)
    end)
    _G.gochan_spec_global = nil
    assert.same({ n = 4, true, nil, "function", "function" }, res)
  end)

  it("runs a function whose _ENV is a sandbox with a copy of that sandbox", function()
    -- API.md: only the sender's global table becomes the receiver's
    -- globals; any other _ENV crosses as the table it is (spec/regress/
    -- 9-sandbox-env_spec.lua has the cases)
    local env = { sandboxed = "data", type = type }
    local fn = load("return function() return sandboxed, type(print), type(os) end",
                    "=sandboxed", "t", env)()
    assert.same({ n = 4, true, "data", "nil", "nil" }, run(fn))
  end)

  it("gives the task the whole standard library", function()
    local res = run(function()
      local out = {}
      for _, name in ipairs { "string", "table", "math", "io", "os", "coroutine",
                              "utf8", "debug", "package" } do
        out[#out + 1] = type(_G[name]) == "table" and rawequal(_G[name], package.loaded[name])
      end
      out[#out + 1] = ("%d"):format(7)                 -- string methods
      out[#out + 1] = require("gochan.core") == gochan   -- a C module by cpath
      out[#out + 1] = type(select) == "function" and type(load) == "function"
      return table.unpack(out)
    end)
    assert.same({ n = 13, true, true, true, true, true, true, true, true, true, true,
                  "7", true, true }, res)
  end)

  it("gives the task its own standard library tables", function()
    string.gochan_spec_mark = true
    local res = run(function() return string.gochan_spec_mark end)
    string.gochan_spec_mark = nil
    assert.same({ n = 2, true, nil }, res)
  end)

  it("does not share globals between tasks", function()
    local a = gochan.go(function() gochan_spec_x = 1 return true end) -- luacheck: ignore
    assert.same({ n = 2, true, true }, pack(a:join(T)))
    local res = run(function() return gochan_spec_x end)            -- luacheck: ignore
    assert.same({ n = 2, true, nil }, res)
  end)

  it("sets the global gochan in the task to require 'gochan' there", function()
    local res = run(function()
      -- read as a global (the task's libraries open on first use)
      return gochan ~= nil, gochan == require "gochan", type(gochan.chan)
    end)
    assert.same({ n = 4, true, true, true, "function" }, res)
  end)

  it("lets require in the task find what the caller finds", function()
    local res = run(function()
      local h = require "spec.helper"
      return type(h.elapsed), package.path, package.cpath
    end)
    assert.same({ n = 4, true, "function", package.path, package.cpath }, res)
  end)

  it("uses the caller's package.path at the time of the call", function()
    local old = package.path
    package.path = "./gochan_spec_nowhere/?.lua;" .. old
    local ok, res = pcall(run, function() return package.path end)
    package.path = old
    assert.is_true(ok)
    assert.same({ n = 2, true, "./gochan_spec_nowhere/?.lua;" .. old }, res)
  end)

  it("rejects a non-function", function()
    assert.has_error(function() gochan.go(1) end,
      "bad argument #1 to 'go' (function expected, got number)")
    assert.has_error(function() gochan.go() end,
      "bad argument #1 to 'go' (function expected, got no value)")
    assert.has_error(function() gochan.go("print") end,
      "bad argument #1 to 'go' (function expected, got string)")
  end)

  it("refuses a coroutine argument, naming where it sits, and starts nothing", function()
    local before = #gochan.tasks()
    assert.has_error(function() gochan.go(function() end, 1, coroutine.create(print)) end,
      "cannot transfer a thread (at argument #3)")
    assert.has_error(function() gochan.go(function() end, { co = coroutine.create(print) }) end,
      "cannot transfer a thread (at argument #2.co)")
    assert.equal(before, #gochan.tasks())
  end)

  it("refuses a function whose upvalue cannot cross", function()
    local co = coroutine.create(print)
    assert.has_error(function() gochan.go(function() return co end) end,
      "cannot transfer a thread (at function<upvalue 'co'>)")
  end)

  it("fails the task when a result cannot cross", function()
    local res = run(function() return coroutine.create(print) end)
    assert.is_false(res[1])
    assert.matches("cannot transfer a thread", res[2], 1, true)
  end)
end)

describe("task:join()", function()
  for _, where in ipairs(helper.PLACES) do
    describe("from the " .. where, function()
      it("waits for the task's results", function()
        local gate = gochan.chan()
        local t = gochan.go(function(g) g:recv(T) return "r", 2 end, gate)
        local opener = gochan.go(function(g) g:send(true, T) end, gate)
        assert.same({ n = 3, true, "r", 2 }, helper.within(where, function(x)
          return x:join(T)
        end, t))
        assert.is_true((opener:join(T)))
      end)

      it("returns nil, 'timeout' after its timeout", function()
        local gate = gochan.chan()
        local t = gochan.go(function(g) g:recv(T) end, gate)
        local r = helper.within(where, function(x)
          local t0 = gochan.now()
          local a, b = x:join(0.05)
          return a, b, gochan.now() - t0
        end, t)
        assert.is_nil(r[1])
        assert.equal("timeout", r[2])
        helper.assert_waited(r[3], 0.05)
        gate:send(true, T)
        assert.is_true((t:join(T)))
      end)
    end)
  end

  it("returns false and the error with a traceback when the task fails", function()
    local t = gochan.go(function() error("boom") end)
    local ok, err = t:join(T)
    assert.is_false(ok)
    assert.equal("string", type(err))
    assert.matches("boom", err, 1, true)
    assert.matches("stack traceback", err, 1, true)
  end)

  it("closes the failed task's to-be-closed variables, as a panic runs defers", function()
    local wg, out = gochan.waitgroup(), gochan.chan(1)
    wg:add(1)
    local t = gochan.go(function(w, o)
      local _ <close> = gochan.defer(function() w:done() end)
      local _ <close> = setmetatable({}, { __close = function(_, e)
        o:send(e)                           -- closed with the task's error
      end })
      error("boom")
    end, wg, out)
    local ok, err = t:join(T)
    assert.is_false(ok)
    assert.matches("boom", err, 1, true)
    assert.is_true(wg:wait(T))              -- the deferred done ran
    local e = out:recv(T)
    assert.matches("boom", e, 1, true)
  end)

  it("reports a to-be-closed variable that raises while the task fails", function()
    local ok, err = gochan.go(function()
      local _ <close> = setmetatable({}, { __close = function() error("again") end })
      error("boom")
    end):join(T)
    assert.is_false(ok)
    assert.matches("boom", err, 1, true)
    assert.matches("(and a to-be-closed variable raised: ", err, 1, true)
    assert.matches("again)", err, 1, true)
  end)

  it("returns an error that is not a string as itself, the traceback third", function()
    local ok, err, tb = gochan.go(function() error({ code = 1 }) end):join(T)
    assert.is_false(ok)
    assert.same({ code = 1 }, err)
    assert.matches("^stack traceback:", tb)
  end)

  it("returns nil, 'timeout' when the task outlives the timeout", function()
    local ch = gochan.chan()
    local t = gochan.go(function(c) return c:recv(T) end, ch)
    local dt, res = helper.elapsed(t.join, t, 0.1)
    assert.same({ n = 2, nil, "timeout" }, res)
    helper.assert_waited(dt, 0.1)
    assert.equal("running", t:status())
    assert.is_true(ch:send("go on", T))
    assert.same({ n = 3, true, "go on", true }, pack(t:join(T)))
  end)

  it("with a zero timeout never blocks", function()
    local ch = gochan.chan()
    local t = gochan.go(function(c) return c:recv(T) end, ch)
    local dt, res = helper.elapsed(t.join, t, 0)
    assert.same({ n = 2, nil, "timeout" }, res)
    helper.assert_prompt(dt)
    ch:send(1, T)
    assert.same({ n = 3, true, 1, true }, pack(t:join(T)))
  end)

  it("waits for a task that sleeps", function()
    local t = gochan.go(function() gochan.sleep(0.1) return "slept" end)
    local dt, res = helper.elapsed(t.join, t, T)
    assert.same({ n = 2, true, "slept" }, res)
    assert.is_true(dt < 0.1 + helper.SLACK)
  end)

  it("can be called many times, each join getting its own copy", function()
    local t = gochan.go(function() return { 1, 2, 3 } end)
    local _, a = t:join(T)
    local _, b = t:join(T)
    local _, c = t:join(0)
    assert.same({ 1, 2, 3 }, a)
    assert.same(a, b)
    assert.are_not.equal(a, b)
    a[1] = 99
    assert.same({ 1, 2, 3 }, c)
  end)

  it("can be called many times on a failed task", function()
    local t = gochan.go(function() error("again") end)
    local ok1, e1 = t:join(T)
    local ok2, e2 = t:join(T)
    assert.is_false(ok1)
    assert.is_false(ok2)
    assert.equal(e1, e2)
  end)

  it("works from another task, and from both at once", function()
    local gate = gochan.chan()
    local t = gochan.go(function(g) g:recv(T) return "result", 2 end, gate)
    local j1 = gochan.go(function(x) return x:join(T) end, t)
    local j2 = gochan.go(function(x) return x:join(T) end, t)
    helper.wait_blocked(j1)
    helper.wait_blocked(j2)
    assert.is_true(gate:send(nil, T))
    assert.same({ n = 4, true, true, "result", 2 }, pack(j1:join(T)))
    assert.same({ n = 4, true, true, "result", 2 }, pack(j2:join(T)))
    assert.same({ n = 3, true, "result", 2 }, pack(t:join(T)))
  end)

  it("times out in a task too", function()
    local gate = gochan.chan()
    local t = gochan.go(function(g) return g:recv(T) end, gate)
    local res = run(function(x)
      local t0 = gochan.now()
      local a, b = x:join(0.05)
      return a, b, gochan.now() - t0
    end, t)
    assert.is_true(res[1])
    assert.is_nil(res[2])
    assert.equal("timeout", res[3])
    helper.assert_waited(res[4], 0.05)
    gate:send(nil, T)
    t:join(T)
  end)

  it("raises when a task joins itself", function()
    local res = run(function()
      local me = gochan.chan(1)
      local t = gochan.go(function(c)
        local self = c:recv(T)
        return pcall(self.join, self, 1)
      end, me)
      me:send(t, T)
      return t:join(T)
    end)
    assert.same({ n = 4, true, true, false, "a task cannot join itself" },
      { n = res.n, res[1], res[2], res[3],
        (tostring(res[4]):gsub("^.-:%d+: ", "")) })
  end)

  it("rejects a bad timeout", function()
    local t = gochan.go(function() end)
    assert.has_error(function() t:join("soon") end,
      "bad argument #1 to 'join' (number or gochan.context expected, got string)")
    t:join(T)
  end)

  it("rejects a bad self", function()
    local t = gochan.go(function() end)
    assert.has_error(function() t.join({}) end,
      "bad argument #1 to 'join' (gochan.task expected, got table)")
    t:join(T)
  end)
end)

describe("task:status()", function()
  it("is 'running' while the task runs, then 'done'", function()
    local gate = gochan.chan()
    local t = gochan.go(function(g) g:recv(T) end, gate)
    assert.equal("running", t:status())
    helper.wait_blocked(t, "recv on gochan.chan")
    assert.equal("running", t:status())      -- blocked counts as running
    gate:send(nil, T)
    t:join(T)
    assert.equal("done", t:status())
  end)

  it("is 'failed' after an error", function()
    local t = gochan.go(function() error("x") end)
    t:join(T)
    assert.equal("failed", t:status())
  end)

  it("is seen the same from another task", function()
    local t = gochan.go(function() error("x") end)
    t:join(T)
    assert.same({ n = 2, true, "failed" }, run(function(x) return x:status() end, t))
  end)
end)

describe("tostring(task)", function()
  it("shows the id and the status", function()
    local gate = gochan.chan()
    local t = gochan.go(function(g) g:recv(T) end, gate)
    local id = tostring(t):match("^gochan%.task #(%d+) %(running%)$")
    assert.is_not_nil(id, tostring(t))
    gate:send(nil, T)
    t:join(T)
    assert.equal("gochan.task #" .. id .. " (done)", tostring(t))
    local f = gochan.go(function() error("x") end)
    f:join(T)
    assert.matches("^gochan%.task #%d+ %(failed%)$", tostring(f))
  end)

  it("numbers tasks in creation order", function()
    local a = gochan.go(function() end)
    local b = gochan.go(function() end)
    local ia = tonumber(tostring(a):match("#(%d+)"))
    local ib = tonumber(tostring(b):match("#(%d+)"))
    assert.is_true(ib > ia)
    a:join(T) b:join(T)
  end)
end)

describe("task handles", function()
  it("cross a channel and stay the same task", function()
    local ch = gochan.chan(1)
    local t = gochan.go(function() return 5 end)
    assert.is_true(ch:send(t, T))
    local back = ch:recv(T)
    assert.is_true(rawequal(t, back))
    assert.is_true(t == back)
    local res = run(function(c)
      local h = c:recv(T)
      return h:join(T)
    end, (function() local c = gochan.chan(1) c:send(t, T) return c end)())
    assert.same({ n = 3, true, true, 5 }, res)
  end)

  it("compare equal when they name the same task", function()
    local t = gochan.go(function() end)
    local res = run(function(x, y) return x == y end, t, t)
    assert.same({ n = 2, true, true }, res)
    t:join(T)
  end)
end)

describe("wg:go()", function()
  it("adds one, starts the task and counts down when it ends", function()
    local wg = gochan.waitgroup()
    local gate = gochan.chan()
    local t = wg:go(function(g, x) g:recv(T) return x end, gate, "arg")
    assert.equal("gochan.task", getmetatable(t).__name)
    assert.is_false(wg:wait(0))
    gate:send(nil, T)
    assert.is_true(wg:wait(T))
    assert.same({ n = 2, true, "arg" }, pack(t:join(T)))
  end)

  it("counts down also when the task fails", function()
    local wg = gochan.waitgroup()
    local t = wg:go(function() error("failing on purpose") end)
    assert.is_true(wg:wait(T))
    assert.is_false((t:join(T)))
  end)

  it("waits for many tasks", function()
    local wg = gochan.waitgroup()
    local a = gochan.atomic()
    for i = 1, 50 do wg:go(function(x, n) x:add(n) end, a, i) end
    assert.is_true(wg:wait(T))
    assert.equal(50 * 51 / 2, a:get())
  end)

  it("rejects a non-function and leaves the counter at zero", function()
    local wg = gochan.waitgroup()
    assert.has_error(function() wg:go(1) end,
      "bad argument #1 to 'go' (function expected, got number)")
    assert.is_true(wg:wait(0))
  end)

  it("undoes the add when an argument is refused", function()
    local wg = gochan.waitgroup()
    assert.has_error(function() wg:go(function() end, coroutine.create(print)) end,
      "cannot transfer a thread (at argument #2)")
    assert.is_true(wg:wait(0))
  end)

  it("works inside a task", function()
    local res = run(function()
      local wg = gochan.waitgroup()
      local a = gochan.atomic()
      for _ = 1, 10 do wg:go(function(x) gochan.sleep(0.01) x:add(1) end, a) end
      return wg:wait(T), a:get()
    end)
    assert.same({ n = 3, true, true, 10 }, res)
  end)
end)

describe("blocking calls inside a task", function()
  it("send and recv on an unbuffered channel with the main state", function()
    local ch = gochan.chan()
    local t = gochan.go(function(c)
      local v = c:recv(T)
      assert(c:send(v * 2, T))
      return "ok"
    end, ch)
    assert.is_true(ch:send(21, T))
    assert.same({ n = 2, 42, true }, pack(ch:recv(T)))
    assert.same({ n = 2, true, "ok" }, pack(t:join(T)))
  end)

  it("send and recv time out", function()
    local res = run(function()
      local c = gochan.chan()
      local t0 = gochan.now()
      local s = c:send(1, 0.05)
      local t1 = gochan.now()
      local v, ok = c:recv(0.05)
      local t2 = gochan.now()
      return s, v, ok, t1 - t0, t2 - t1
    end)
    assert.is_true(res[1])
    assert.is_false(res[2])
    assert.is_nil(res[3])
    assert.is_nil(res[4])
    helper.assert_waited(res[5], 0.05)
    helper.assert_waited(res[6], 0.05)
  end)

  it("recv sees a close, and send on a closed channel raises", function()
    local ch = gochan.chan()
    local t = gochan.go(function(c)
      local v, ok = c:recv(T)
      local sent, err = pcall(c.send, c, 1, T)
      return v, ok, sent, err
    end, ch)
    helper.wait_blocked(t, "recv on gochan.chan")
    ch:close()
    local res = pack(t:join(T))
    assert.is_true(res[1])
    assert.is_nil(res[2])
    assert.is_false(res[3])
    assert.is_false(res[4])
    assert.matches("send on closed channel", res[5], 1, true)
  end)

  it("a sender blocked in a task raises when the channel is closed", function()
    local ch = gochan.chan()
    local t = gochan.go(function(c) return pcall(c.send, c, "x", T) end, ch)
    helper.wait_blocked(t, "send on gochan.chan")
    ch:close()
    local res = pack(t:join(T))
    assert.is_true(res[1])
    assert.is_false(res[2])
    assert.matches("send on closed channel", res[3], 1, true)
  end)

  it("range receives until the channel is closed", function()
    local ch = gochan.chan(4)
    local t = gochan.go(function(c)
      local sum, n = 0, 0
      for v in c:range() do sum = sum + v; n = n + 1 end
      return sum, n
    end, ch)
    for i = 1, 100 do assert.is_true(ch:send(i, T)) end
    ch:close()
    assert.same({ n = 3, true, 5050, 100 }, pack(t:join(T)))
  end)

  it("select with handlers, chosen by whichever channel is ready", function()
    local a, b = gochan.chan(), gochan.chan()
    local t = gochan.go(function(x, y)
      local out = {}
      for _ = 1, 2 do
        out[#out + 1] = { gochan.select {
          { "recv", x, function(v, ok) return "a:" .. tostring(v), ok end },
          { "recv", y, function(v, ok) return "b:" .. tostring(v), ok end },
          { "recv", gochan.after(T) },
        } }
      end
      return out
    end, a, b)
    assert.is_true(b:send("1", T))
    assert.is_true(a:send("2", T))
    local ok, out = t:join(T)
    assert.is_true(ok)
    assert.same({ { 2, "b:1", true }, { 1, "a:2", true } }, out)
  end)

  it("select sends, and times out through an after case", function()
    local ch = gochan.chan()
    local t = gochan.go(function(c)
      local i = gochan.select { { "send", c, "v", function() return "sent" end },
                                { "recv", gochan.after(T) } }
      local t0 = gochan.now()
      local j = gochan.select { { "recv", c }, { "recv", gochan.after(0.05) } }
      return i, j, gochan.now() - t0
    end, ch)
    assert.same({ n = 2, "v", true }, pack(ch:recv(T)))
    local res = pack(t:join(T))
    assert.is_true(res[1])
    assert.equal(1, res[2])
    assert.equal(2, res[3])
    helper.assert_waited(res[4], 0.05)
  end)

  it("select with a default does not block", function()
    local res = run(function()
      local c = gochan.chan()
      return gochan.select { { "recv", c }, default = function() return "none" end }
    end)
    assert.same({ n = 3, true, nil, "none" }, res)
  end)

  it("wg:wait waits for done in the main state, and times out", function()
    local wg = gochan.waitgroup()
    wg:add(1)
    local step = gochan.chan(1)
    local t = gochan.go(function(w, st)
      local t0 = gochan.now()
      local first = w:wait(0.05)
      local dt = gochan.now() - t0
      st:send(true, T)                        -- the first wait is over
      return first, dt, w:wait(T)
    end, wg, step)
    assert.is_true((step:recv(T)))
    helper.wait_blocked(t)                    -- in the second wait
    wg:done()
    local res = pack(t:join(T))
    assert.is_true(res[1])
    assert.is_false(res[2])
    helper.assert_waited(res[3], 0.05)
    assert.is_true(res[4])
  end)

  it("mutex lock waits for the main state's unlock", function()
    local mu = gochan.mutex()
    local order = gochan.chan(2)
    mu:lock()
    local t = gochan.go(function(m, o)
      m:lock()
      o:send("task", T)
      m:unlock()
      return true
    end, mu, order)
    helper.wait_blocked(t)
    order:send("main", T)
    mu:unlock()
    assert.same({ n = 2, true, true }, pack(t:join(T)))
    assert.equal("main", order:recv(T))
    assert.equal("task", order:recv(T))
  end)

  it("mutex protects a counter across tasks, with lock as a closer", function()
    local mu = gochan.mutex()
    local box = gochan.chan(1)
    box:send(0, T)
    local wg = gochan.waitgroup()
    for _ = 1, 8 do
      wg:go(function(m, b)
        for _ = 1, 50 do
          local _ <close> = m:lock()
          local v = b:recv(T)
          b:send(v + 1, T)
        end
      end, mu, box)
    end
    assert.is_true(wg:wait(T))
    assert.equal(400, box:recv(T))
  end)

  it("sleep lets other tasks run", function()
    local res = run(function()
      local ch = gochan.chan(1)
      local t = gochan.go(function(c) gochan.sleep(0.05) c:send("late", T) end, ch)
      local t0 = gochan.now()
      gochan.sleep(0.1)
      local dt = gochan.now() - t0
      local v = ch:try_recv()
      t:join(T)
      return v, dt
    end)
    assert.is_true(res[1])
    assert.equal("late", res[2])
    helper.assert_waited(res[3], 0.1)
  end)

  it("a channel made in a task can be sent back and used", function()
    local back = gochan.chan()
    local t = gochan.go(function(b)
      local mine = gochan.chan()
      b:send(mine, T)
      local v = mine:recv(T)
      mine:send(v .. "!", T)
      return mine
    end, back)
    local mine = back:recv(T)
    assert.equal("gochan.chan", getmetatable(mine).__name)
    assert.is_true(mine:send("hey", T))
    assert.equal("hey!", mine:recv(T))
    local ok, same = t:join(T)
    assert.is_true(ok)
    assert.is_true(rawequal(mine, same))
  end)

  it("after and ticker work in a task", function()
    local res = run(function()
      local tk = gochan.ticker(0.01)
      local n = 0
      for _ = 1, 3 do if tk.c:recv(T) then n = n + 1 end end
      tk:stop()
      local v = gochan.after(0.01):recv(T)
      return n, type(v)
    end)
    assert.same({ n = 3, true, 3, "number" }, res)
  end)

  it("blocking works in a nested coroutine of the task (without yielding it)", function()
    local res = run(function()
      local c = gochan.chan(1)
      local co = coroutine.wrap(function()
        c:send("in co", T)
        coroutine.yield(c:recv(T))
        return "end"
      end)
      return co(), co()
    end)
    assert.same({ n = 3, true, "in co", "end" }, res)
  end)

  it("blocking works where the task cannot yield (a sort comparator)", function()
    local res = run(function()
      local c = gochan.chan(1)
      local t = { 3, 1, 2 }
      table.sort(t, function(a, b)
        c:send(a, T)
        c:recv(T)
        return a < b
      end)
      return t
    end)
    assert.same({ n = 2, true, { 1, 2, 3 } }, res)
  end)
end)

describe("many tasks", function()
  it("runs tasks woken by a task that then computes for long, soon", function()
    -- A task woken by a hand-off waits for its waker's worker, unless that
    -- worker holds it for long (then another takes it; preemption would
    -- too, within 10 ms): three tasks woken by one that then computes for
    -- 300 ms must all have run well before it is done.
    local go_, woke = gochan.chan(), gochan.chan(3)
    for _ = 1, 3 do
      local t = gochan.go(function(g, w) g:recv(T) w:send(gochan.now()) end, go_, woke)
      helper.wait_blocked(t, "recv on gochan.chan")
    end
    local t0 = gochan.now()
    local waker = gochan.go(function(g)
      for _ = 1, 3 do g:send(true, T) end
      local stop = gochan.now() + 0.3
      while gochan.now() < stop do end          -- computes, never parks
    end, go_)
    for _ = 1, 3 do
      local at = woke:recv(T)
      assert.is_true(at - t0 < 0.15, ("woken task ran after %.3f s"):format(at - t0))
    end
    assert.is_true(waker:join(T))
  end)

  it("runs a woken task while two others ping-pong on its worker", function()
    -- The ping-pong keeps its worker's run-next slot full; a task woken
    -- before it must not wait behind it until the exchange ends. Bounded
    -- in round trips, not time: under ThreadSanitizer a thread that yields
    -- some 100,000 times through Debian's lua5.4 crashes in TSan's own
    -- bookkeeping.
    local c, ran = gochan.chan(), gochan.atomic(0)
    helper.wait_blocked(gochan.go(function(ch, r) ch:recv(T) r:set(1) end, c, ran),
                        "recv on gochan.chan")
    local a, b = gochan.chan(), gochan.chan()
    local p2 = gochan.go(function(x, y)
      for v in x:range() do y:send(v + 1, T) end
    end, a, b)
    helper.wait_blocked(p2)                       -- p2 waits on a
    local p1 = gochan.go(function(ch, x, y, r)
      ch:send(true, T)                            -- wakes the waiting task,
      local n = 0                                 -- then ping-pongs until it
      while r:get() == 0 and n < 20000 do         -- has run (or 20,000 times)
        x:send(n, T)
        n = y:recv(T)
      end
      x:close()
      return r:get() == 1, n
    end, c, a, b, ran)
    local ok, seen, n = p1:join(T)
    assert.is_true(ok)
    assert.is_true(seen, ("the woken task ran only after %d round trips"):format(n))
    assert.is_true(n < 20000, ("the woken task ran only after %d round trips"):format(n))
    assert.is_true((p2:join(T)))
  end)

  it("ping-pong 10,000 round trips between two tasks", function()
    local ping, pong = gochan.chan(), gochan.chan()
    local N = 10000
    local a = gochan.go(function(pi, po, n)
      for i = 1, n do
        assert(pi:send(i, 5))
        local v = po:recv(5)
        if v ~= i + 1 then return "bad " .. tostring(v) end
      end
      pi:close()
      return "done"
    end, ping, pong, N)
    local b = gochan.go(function(pi, po)
      local n = 0
      for v in pi:range() do
        assert(po:send(v + 1, 5))
        n = n + 1
      end
      return n
    end, ping, pong)
    assert.same({ n = 2, true, "done" }, pack(a:join(30)))
    assert.same({ n = 2, true, N }, pack(b:join(30)))
  end)

  it("1,000 tasks spawned and joined", function()
    local tasks = {}
    for i = 1, 1000 do tasks[i] = gochan.go(function(x) return x * 2 end, i) end
    local sum = 0
    for i = 1, 1000 do
      local ok, v = tasks[i]:join(T)
      assert.is_true(ok)
      sum = sum + v
    end
    assert.equal(1000 * 1001, sum)
  end)

  it("1,000 tasks blocked at once all wake", function()
    local gate = gochan.chan()
    local out = gochan.chan(1000)
    local wg = gochan.waitgroup()
    for i = 1, 1000 do
      -- the tasks' own timeout is far longer than the wait for all of them
      -- to block, so that a slow start (a sanitizer, a loaded machine)
      -- fails that wait clearly instead of timing out early starters
      wg:go(function(g, o, x)
        local _, ok = g:recv(8 * T)
        o:send(ok == false and x or -x, T)   -- false: woken by the close
      end, gate, out, i)
    end
    local deadline = gochan.now() + 4 * T    -- until all 1000 are blocked
    local blocked
    repeat
      blocked = 0
      for _, e in ipairs(gochan.tasks()) do
        if e.status == "blocked" then blocked = blocked + 1 end
      end
      if blocked < 1000 then gochan.sleep(0.001) end
    until blocked == 1000 or gochan.now() > deadline
    assert.equal(1000, blocked, "not all tasks blocked within the wait")
    gate:close()
    assert.is_true(wg:wait(T))
    local sum = 0
    for _ = 1, 1000 do sum = sum + out:recv(T) end
    assert.equal(1000 * 1001 / 2, sum)
  end)

  it("tasks spawn tasks", function()
    local res = run(function()
      local function fib (n)
        if n < 2 then return n end
        local a = gochan.go(fib, n - 1)
        local b = gochan.go(fib, n - 2)
        local _, x = a:join(5)
        local _, y = b:join(5)
        return x + y
      end
      return fib(10)
    end)
    assert.same({ n = 2, true, 55 }, res)
  end)
end)

describe("gochan.tasks()", function()
  it("is a list of the live tasks with id, status and what they wait on", function()
    local ch = gochan.chan()
    local t = gochan.go(function(c) return c:recv(T) end, ch)
    local id = tonumber(tostring(t):match("#(%d+)"))
    local entry
    local deadline = gochan.now() + T
    repeat
      for _, e in ipairs(gochan.tasks()) do
        if e.id == id and e.status == "blocked" then entry = e end
      end
      if not entry then gochan.sleep(0.005) end
    until entry or gochan.now() > deadline
    assert.is_not_nil(entry)
    assert.equal("blocked", entry.status)
    assert.equal("string", type(entry.waiting))
    assert.matches("recv", entry.waiting, 1, true)
    ch:send(1, T)
    t:join(T)
    for _, e in ipairs(settle()) do assert.are_not.equal(id, e.id) end
  end)

  it("shows a computing task as running with nothing to wait on", function()
    local stop = gochan.atomic()
    local t = gochan.go(function(s) while s:get() == 0 do end end, stop)
    local id = tonumber(tostring(t):match("#(%d+)"))
    local found
    local deadline = gochan.now() + T
    repeat                                -- until a worker runs it
      for _, e in ipairs(gochan.tasks()) do
        if e.id == id and e.status == "running" then found = e end
      end
      if not found then gochan.sleep(0.001) end
    until found or gochan.now() > deadline
    stop:set(1)
    t:join(T)
    assert.is_not_nil(found)
    assert.equal("running", found.status)
    assert.is_nil(found.waiting)
  end)

  it("is empty after everything is joined", function()
    local ts = {}
    for i = 1, 20 do ts[i] = gochan.go(function() gochan.sleep(0.01) end) end
    for i = 1, 20 do ts[i]:join(T) end
    assert.same({}, settle())
  end)

  it("works inside a task", function()
    local res = run(function()
      local list = gochan.tasks()
      return type(list), #list >= 1
    end)
    assert.same({ n = 3, true, "table", true }, res)
  end)
end)
