-- nats_js_spec.lua: distributed channels (conn:channel, JetStream work
-- queues) against a real nats-server with -js and file storage in a temp
-- dir (spec/natsserver.lua), and the failure tests: a receiver process
-- killed mid-stream, the server restarted, back-pressure, close. The specs
-- that start processes or stop the server are tagged #subprocess. Skipped
-- with a message where the module or the server is missing; with CI=true
-- that is a failure.

local gochan = require "gochan"
local helper = require "spec.helper"
local natsserver = require "spec.natsserver"

if not natsserver.runnable("gochan.nats distributed channels") then return end

local nats = require "gochan.nats"

local serial = 0
-- A channel name no earlier test (or run, on an outside server) used.
local function fresh(base)
  serial = serial + 1
  return ("%s-%d-%d"):format(base, serial, math.random(1, 1e9))
end

-- Every value 'ch' gives until 'n' came or 'seconds' pass without one.
local function take(ch, n, seconds)
  local got = {}
  while #got < n do
    local v, ok = ch:recv(seconds)
    if not ok then break end
    got[#got + 1] = v
  end
  return got
end

describe("gochan.nats distributed channels", function()
  local server, conn, other

  setup(function()
    server = natsserver.start()
  end)

  teardown(function()
    if server then server:close() end
  end)

  before_each(function()
    conn = nats.connect(server.url, { name = "spec-js" })
    other = nats.connect(server.url, { name = "spec-js-other" })
  end)

  after_each(function()
    conn:close()
    other:close()
  end)

  it("checks names and options", function()
    assert.has_error(function() conn:channel("a.b") end,
      "bad argument #1 to 'channel' (channel name may hold only letters, digits, '_' and '-')")
    assert.has_error(function() conn:channel("") end,
      "bad argument #1 to 'channel' (empty channel name)")
    assert.has_error(function() conn:channel(("x"):rep(65)) end,
      "bad argument #1 to 'channel' (channel name longer than 64 bytes)")
    assert.has_error(function() conn:channel("a", { cap = 0 }) end,
      "bad argument #2 to 'channel' ('cap' must be a positive integer)")
    assert.has_error(function() conn:channel("a", { cap = 1.5 }) end,
      "bad argument #2 to 'channel' ('cap' must be a positive integer)")
    assert.has_error(function() conn:channel("a", { ack_wait = 0 }) end,
      "bad argument #2 to 'channel' ('ack_wait' must be a number of seconds from 0.05 to 86400)")
    local name = fresh("caps")
    local ch = conn:channel(name, { cap = 4 })
    assert.equal(4, ch:cap())
    assert.equal(name, ch:name())
    assert.equal(("gochan.nats.chan '%s' (cap=4)"):format(name), tostring(ch))
    assert.equal(4, other:channel(name):cap())         -- the existing one
    assert.has_error(function() other:channel(name, { cap = 5 }) end,
      ("cannot open distributed channel '%s': distributed channel '%s' has capacity 4")
        :format(name, name))
    assert.equal(256, conn:channel(fresh("dflt")):cap())
    assert.has_error(function() ch:send(print) end,
      "cannot send a function over NATS (at value)")
    assert.has_error(function() ch:send(1, "soon") end,
      "bad argument #2 to 'send' (number or gochan.context expected, got string)")
    assert.has_error(function() gochan.select({ { "send", ch, 1 } }) end,
      "a distributed channel cannot be a send case of select (use ch:send)")
    local c = nats.connect(server.url)
    c:close()
    assert.has_error(function() c:channel("a") end, "connection closed")
  end)

  it("gives each value to one receiver, in select, range and with contexts", function()
    local name = fresh("share")
    local a, b = conn:channel(name), other:channel(name)
    for i = 1, 20 do assert.is_true(a:send(i, 5)) end
    local seen, n = {}, 0
    while n < 20 do
      local i, v = gochan.select({ { "recv", a }, { "recv", b }, { "recv", gochan.after(5) } })
      assert.is_true(i < 3, "a value is missing")
      assert.is_nil(seen[v], "value " .. tostring(v) .. " twice")
      seen[v], n = true, n + 1
    end
    assert.same({ nil, nil }, { a:recv(0.1) })
    assert.same({ nil, nil }, { b:try_recv() })      -- never one waiting
    local ctx, cancel = gochan.with_timeout(0.05)
    assert.same({ nil, nil, "context deadline exceeded" }, { b:recv(ctx) })
    cancel()
    a:send({ t = { 1, 2.5, "s" } }, 5)
    assert.same({ t = { 1, 2.5, "s" } }, (b:recv(5)))
    a:send("x", 5)
    a:close()
    local got = {}
    for v in b:range() do got[#got + 1] = v end
    assert.same({ "x" }, got)
  end)

  for _, where in ipairs(helper.PLACES) do
    it("recv waits for a value another connection sends, from the " .. where, function()
      local name = fresh("wait")
      local ch = conn:channel(name)
      local sender = helper.when_blocked(where, "recv on gochan.chan",
        function(c) return c:send("late", 5) end, other:channel(name))
      local r = helper.within(where, function(c)
        local v, ok = c:recv(5)
        return v, ok, c:ack()
      end, ch)
      assert.same({ "late", true, true, n = 3 }, r)
      assert.same({ true, true }, { sender:join(5) })
    end)
  end

  it("crosses to a task and works there", function()
    local name = fresh("task")
    local ch = conn:channel(name)
    local r = helper.within("task", function(c)
      assert(c:send("from a task", 5))
      return c:recv(5)
    end, ch)
    assert.same({ "from a task", true, n = 2 }, r)
  end)

  it("blocks send while cap values are unacknowledged, per its timeout or context", function()
    local name = fresh("bp")
    local ch = conn:channel(name, { cap = 2 })
    assert.is_true(ch:send(1, 5))
    assert.is_true(ch:send(2, 5))
    local dt, r = helper.elapsed(ch.send, ch, 3, 0.3)
    assert.same({ false, n = 1 }, r)
    helper.assert_waited(dt, 0.3)
    local ctx, cancel = gochan.with_timeout(0.2)
    dt, r = helper.elapsed(ch.send, ch, 3, ctx)
    assert.same({ false, "context deadline exceeded", n = 2 }, r)
    helper.assert_waited(dt, 0.2)
    cancel()
    -- a sender in a task waits; a receive elsewhere and its ack make room
    local sender = gochan.go(function(c) return c:send(3, 10) end, other:channel(name))
    local rc = other:channel(name)
    assert.same({ 1, true }, { rc:recv(5) })
    assert.is_true(rc:ack())
    assert.is_false(rc:ack())                       -- nothing held now
    assert.same({ true, true }, { sender:join(10) })
    assert.same({ 2, 3 }, take(rc, 2, 5))
  end)

  it("shows close after the values before it; later sends raise everywhere", function()
    local name = fresh("close")
    local ch = conn:channel(name, { cap = 8 })
    for i = 1, 3 do ch:send(i, 5) end
    ch:close()
    assert.has_error(function() ch:close() end, "close of closed channel")
    local there = other:channel(name)
    assert.has_error(function() there:send(4, 5) end, "send on closed channel")
    assert.same({ 1, 2, 3 }, take(there, 10, 5))    -- then closed
    assert.same({ nil, false }, { there:recv(5) })
    assert.same({ nil, false }, { ch:recv(5) })     -- this one sees it too
    local late = nats.connect(server.url)           -- one that opens it now
    assert.same({ nil, false }, { late:channel(name):recv(5) })
    late:close()
  end)

  it("delivers again what a receiver did not acknowledge, after ack_wait", function()
    local name = fresh("redo")
    local ch = conn:channel(name, { ack_wait = 0.2 })
    ch:send("a", 5); ch:send("b", 5)
    local quitter = nats.connect(server.url)
    local q = quitter:channel(name)
    assert.same({ "a", true }, { q:recv(5) })       -- taken, never acknowledged
    quitter:close()                                 -- as if it died
    local dt, r = helper.elapsed(take, ch, 2, 5)
    table.sort(r[1])                                -- "a" comes back later
    assert.same({ "a", "b" }, r[1])
    assert.truthy(dt >= 0.1, "delivered again before ack_wait")
    -- acknowledged with ack(): not delivered again
    ch:send("c", 5)
    local keeper = nats.connect(server.url)
    local k = keeper:channel(name)
    assert.same({ "c", true }, { k:recv(5) })
    assert.is_true(k:ack())
    keeper:close()
    assert.same({ nil, nil }, { ch:recv(0.5) })
  end)

  it("keeps a slow receiver's value past ack_wait while its process lives", function()
    local name = fresh("slow")
    local ch = conn:channel(name, { ack_wait = 0.15 })
    local rc = other:channel(name)
    ch:send(1, 5)
    assert.same({ 1, true }, { rc:recv(5) })
    assert.same({ nil, nil }, { ch:recv(0.6) })     -- still its: in progress
    assert.is_true(rc:ack())
  end)
end)

-- A receiver in its own process: prints each value it takes (one line,
-- flushed), acknowledging the one before with each receive.
local RECEIVER = [[
  io.stdout:setvbuf("line")
  local nats = require "gochan.nats"
  local c = nats.connect(os.getenv("URL"))
  local ch = c:channel(os.getenv("NAME"))
  print("ready")
  while true do                       -- ends when nothing comes for 10 s
    local v, ok = ch:recv(10)
    if not ok then break end
    print("got " .. v)
  end
]]

local function lines_of(path)
  local f = io.open(path)
  if not f then return {} end
  local t = {}
  for l in f:lines() do t[#t + 1] = l end
  f:close()
  return t
end

-- Start shell command 'cmd' in the background (stdout and stderr to a temp
-- file): its pid and the file.
local function background(cmd)
  local out = os.tmpname()
  local p = assert(io.popen(("%s >%s 2>&1 & echo $!"):format(cmd, out)))
  local pid = assert(tonumber(p:read("a")))
  p:close()
  return pid, out
end

-- Lua source 'src' in the background, with this state's module paths (the
-- pid is the interpreter's own, not a `timeout`'s: 'src' ends by itself).
local function spawn(src, env)
  local vars = {}
  for k, v in pairs(env) do vars[#vars + 1] = k .. "=" .. helper.shq(v) end
  return background(("%s LUA_PATH=%s LUA_CPATH=%s %s -e %s")
    :format(table.concat(vars, " "), helper.shq(package.path), helper.shq(package.cpath),
            os.getenv("GOCHAN_SPEC_LUA") or "lua5.4", helper.shq(src)))
end

-- Wait (polling, at most 'seconds') until fn() is true.
local function eventually(fn, what, seconds)
  local deadline = gochan.now() + (seconds or 10)
  while not fn() do
    if gochan.now() > deadline then error("not in time: " .. what, 2) end
    gochan.sleep(0.01)
  end
end

describe("gochan.nats distributed channels, failures #subprocess", function()
  local server

  setup(function() server = natsserver.start(true) end)
  teardown(function() if server then server:close() end end)

  it("loses nothing when a receiver process is killed mid-stream", function()
    local N = 200
    local name = fresh("kill")
    local conn = nats.connect(server.url)
    local ch = conn:channel(name, { cap = N, ack_wait = 0.5 })
    for i = 1, N do assert(ch:send(i, 5)) end
    local pid, out = spawn(RECEIVER, { URL = server.url, NAME = name })
    eventually(function() return #lines_of(out) > 50 end, "the receiver's first 50 values")
    os.execute("kill -9 " .. pid)
    local theirs = {}
    for _, l in ipairs(lines_of(out)) do
      local v = l:match("^got (%d+)$")
      if v then theirs[#theirs + 1] = tonumber(v) end
    end
    os.remove(out)
    assert.truthy(#theirs >= 50)
    local count, dups = {}, {}
    for _, v in ipairs(theirs) do count[v] = (count[v] or 0) + 1 end
    local missing = N
    for i = 1, N do if count[i] then missing = missing - 1 end end
    local function got(v)
      if count[v] then dups[#dups + 1] = v else missing = missing - 1 end
      count[v] = (count[v] or 0) + 1
    end
    while missing > 0 do                            -- every value comes
      local v, ok = ch:recv(5)
      if not ok then break end
      got(v)
    end
    for _, v in ipairs(take(ch, N, 1)) do got(v) end   -- and no more
    for i = 1, N do
      assert.truthy(count[i], ("value %d lost (the killed receiver printed %d values, the last %s)")
        :format(i, #theirs, tostring(theirs[#theirs])))
    end
    -- the only duplicate possible: the value the killed receiver held,
    -- the last it printed (taken, not acknowledged); every other value once
    assert.truthy(#dups <= 1, "duplicates: " .. table.concat(dups, " "))
    if #dups == 1 then assert.equal(theirs[#theirs], dups[1]) end
    local total = 0
    for _, n in pairs(count) do total = total + n end
    assert.equal(N + #dups, total)
    conn:close()
  end)

  it("loses nothing when the server restarts (file storage)", function()
    local name = fresh("restart")
    local conn = nats.connect(server.url, { reconnect_wait = 0.05 })
    local ch = conn:channel(name, { cap = 64 })
    for i = 1, 30 do assert(ch:send(i, 5)) end
    assert.same({ 1, 2, 3, 4, 5 }, take(ch, 5, 5))
    assert(server:restart())
    eventually(function() return conn:status() == "connected" end, "the reconnect")
    local got = take(ch, 30, 3)                     -- 6..30, and 5 again if
    if got[1] == 5 then table.remove(got, 1) end    -- its ack was lost
    local want = {}
    for i = 6, 30 do want[#want + 1] = i end
    assert.same(want, got)
    assert.is_true(ch:send("after", 5))
    assert.same({ "after", true }, { ch:recv(5) })
    conn:close()
  end)
end)

describe("examples with distributed channels #subprocess", function()
  local server

  setup(function() server = natsserver.start(true) end)
  teardown(function() if server then server:close() end end)

  local function run(args, env)
    local vars = { "NATS_URL=" .. helper.shq(server.url), "NO_COLOR=1" }
    for k, v in pairs(env or {}) do vars[#vars + 1] = k .. "=" .. helper.shq(v) end
    return ("%s LUA_PATH=%s LUA_CPATH=%s timeout 60 %s examples/%s")
      :format(table.concat(vars, " "), helper.shq(package.path), helper.shq(package.cpath),
              os.getenv("GOCHAN_SPEC_LUA") or "lua5.4", args)
  end

  local function count(ls, pat)
    local n = 0
    for _, l in ipairs(ls) do if l:find("^" .. pat .. "$") then n = n + 1 end end
    return n
  end

  it("distributed_pizzeria.lua: the shop and the orders in two processes", function()
    local env = { GOCHAN_DELAY_SCALE = "0.01", PIZZERIA = fresh("pizzeria") }
    local shoppid, shopout = background(run("distributed_pizzeria.lua shop", env))
    local o = assert(io.popen(run("distributed_pizzeria.lua orders", env) .. " 2>&1"))
    local out = o:read("a")
    local _, _, code = o:close()
    os.execute(("timeout 20 sh -c 'while kill -0 %d 2>/dev/null; do sleep 0.05; done'")
               :format(shoppid))
    local shop = table.concat(lines_of(shopout), "\n") .. "\n"
    os.remove(shopout)
    assert.equal(0, code, out)
    local ls = {}
    for l in (shop .. out):gmatch("([^\n]*)\n") do ls[#ls + 1] = l end
    assert.equal(1, count(ls, "The Pizzeria is open for business!"))
    local made, failed = 0, 0
    for n = 1, 10 do
      assert.equal(1, count(ls, "Received order #" .. n .. "!"))
      assert.equal(1, count(ls, "Making pizza #" .. n .. "%. It will take [1-5] seconds%.%.%.%."))
      local ready = count(ls, "Pizza order #" .. n .. " is ready!")
      local bad = count(ls, "%*%*%* We ran out of ingredients for pizza #" .. n .. "!")
                + count(ls, "%*%*%* The cook quit while making pizza #" .. n .. "!")
      assert.equal(1, ready + bad, "order #" .. n .. " has one outcome")
      assert.equal(ready, count(ls, "Order #" .. n .. " is out for delivery!"))
      made, failed = made + ready, failed + bad
    end
    assert.equal(made, count(ls, "Order #%d+ is out for delivery!"))
    assert.equal(failed, count(ls, "The customer is really mad!"))
    assert.equal(1, count(ls, "Done making pizzas%.%.%."))
    local m, f, t = out:match(
      "We made (%d+) pizzas, but failed to make (%d+), with (%d+) attempts in total%.")
    assert.same({ made, failed, 10 }, { tonumber(m), tonumber(f), tonumber(t) })
  end)

  it("workers.lua: worker processes share one work queue", function()
    local o = assert(io.popen(run("workers.lua", { WORKERS = "3", JOBS = "30",
                                                   QUEUE = fresh("jobs") }) .. " 2>&1"))
    local out = o:read("a")
    local _, _, code = o:close()
    assert.equal(0, code, out)
    local ls = {}
    for l in out:gmatch("([^\n]*)\n") do ls[#ls + 1] = l end
    for j = 1, 30 do
      assert.equal(1, count(ls, ("worker %%d+: job %d %%-> %d"):format(j, j * j)), out)
    end
    assert.equal("30 results, sum of squares 9455", ls[#ls])
  end)
end)
