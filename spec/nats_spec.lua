-- nats_spec.lua: gochan.nats against a real nats-server (spec/natsserver.lua
-- starts one). Skipped with a message where the module or the server is
-- missing; with CI=true that is a failure.

local gochan = require "gochan"
local helper = require "spec.helper"
local natsserver = require "spec.natsserver"

if not natsserver.runnable("gochan.nats") then return end

local nats = require "gochan.nats"

-- Wait (polling, at most 5 s) until fn() is true.
local function eventually(fn, what)
  local deadline = gochan.now() + 5
  while not fn() do
    if gochan.now() > deadline then error("not within 5 s: " .. what, 2) end
    gochan.sleep(0.005)
  end
end

describe("gochan.nats", function()
  local server, conn, other

  setup(function()
    server = natsserver.start()
  end)

  teardown(function()
    if server then server:close() end
  end)

  before_each(function()
    conn = nats.connect(server.url, { name = "spec" })
    other = nats.connect(server.url, { name = "spec-other" })
  end)

  after_each(function()
    conn:close()
    other:close()
  end)

  describe("connect()", function()
    it("says what is wrong with a URL that is not one", function()
      assert.has_error(function() nats.connect("localhost") end,
        "bad argument #1 to 'connect' (invalid NATS URL 'localhost' (expected nats://host:port))")
    end)

    it("raises when no server can be reached", function()
      local ok, err = pcall(nats.connect, "nats://127.0.0.1:1", { timeout = 0.5 })
      assert.is_false(ok)
      assert.matches("^.-cannot connect to NATS at 'nats://127.0.0.1:1': No server available",
                     err)
    end)

    it("checks its options", function()
      assert.has_error(function() nats.connect(server.url, { timeout = -1 }) end,
        "bad argument #2 to 'connect' ('timeout' must be a positive number of seconds)")
      assert.has_error(function() nats.connect(server.url, { reconnect_buffer = "x" }) end,
        "bad argument #2 to 'connect' ('reconnect_buffer' must be a non-negative integer (bytes))")
    end)

    it("gives a connection that says where it is and can be closed once", function()
      assert.matches("^gochan.nats.conn #%d+ %(nats://127.0.0.1:%d+%)$", tostring(conn))
      assert.equal("connected", conn:status())
      local c = nats.connect(server.url)
      assert.is_true(c:close())
      assert.is_false(c:close())
      assert.equal("closed", c:status())
      assert.has_error(function() c:publish("x", 1) end, "connection closed")
    end)
  end)

  describe("publish() and subscribe()", function()
    it("carries values with their types, shared tables and cycles", function()
      local ch = conn:subscribe("spec.values")
      assert.is_true(conn:flush(2))
      local t = { 1, 2.0, "\0bin\255", true, false, n = math.mininteger,
                  f = 0.1, big = math.huge, nested = { x = { y = "z" } } }
      t.self = t
      t.a, t.b = t.nested, t.nested
      other:publish("spec.values", t)
      local v = ch:recv(5)
      assert.equal(1, v[1]); assert.equal("integer", math.type(v[1]))
      assert.equal(2.0, v[2]); assert.equal("float", math.type(v[2]))
      assert.equal("\0bin\255", v[3])
      assert.same({ true, false }, { v[4], v[5] })
      assert.equal(math.mininteger, v.n)
      assert.equal(0.1, v.f)
      assert.equal(math.huge, v.big)
      assert.equal("z", v.nested.x.y)
      assert.equal(v, v.self)
      assert.equal(v.a, v.b)
      other:publish("spec.values", nil)
      other:publish("spec.values", "s")
      assert.same({ nil, true }, { ch:recv(5) })
      assert.same({ "s", true }, { ch:recv(5) })
    end)

    it("sends a frozen table as an ordinary table", function()
      local ch = conn:subscribe("spec.frozen")
      assert.is_true(conn:flush(2))
      local shared = { 1, 2 }
      local f = gochan.freeze({ a = shared, b = shared, s = "x" })
      other:publish("spec.frozen", { f = f })
      local v = ch:recv(5)
      assert.equal("table", type(v.f))
      assert.same({ 1, 2 }, v.f.a)
      assert.equal(v.f.a, v.f.b)
    end)

    it("gives a channel usable in select, range and with contexts", function()
      local ch = conn:subscribe("spec.sel.*")
      assert.is_true(conn:flush(2))
      other:publish("spec.sel.a", 1)
      local i, v = gochan.select({ { "recv", ch }, { "recv", gochan.after(5) } })
      assert.same({ 1, 1 }, { i, v })
      local ctx, cancel = gochan.with_timeout(0.05)
      assert.same({ nil, nil, "context deadline exceeded" }, { ch:recv(ctx) })
      cancel()
      other:publish("spec.sel.b", 2)
      other:publish("spec.sel.c", 3)
      local got, n = {}, gochan.atomic()
      local closer = gochan.go(function(c, k)   -- once both have arrived
        local deadline = gochan.now() + 5
        while k:get() < 2 and gochan.now() < deadline do gochan.sleep(0.001) end
        c:close()
      end, conn, n)
      for x in ch:range() do got[#got + 1] = x; n:add(1) end
      assert.same({ 2, 3 }, got)
      assert.is_true((closer:join(5)))
    end)

    for _, where in ipairs(helper.PLACES) do
      it("gives a channel whose recv waits for a message, from the " .. where, function()
        local ch = conn:subscribe("spec.wait")
        assert.is_true(conn:flush(2))   -- the server has the subscription
        local pub = helper.when_blocked(where, "recv on gochan.chan",
          function(c) c:publish("spec.wait", { n = 7 }) end, other)
        local r = helper.within(where, function(c) return c:recv(5) end, ch)
        assert.same({ n = 2, { n = 7 }, true }, r)
        assert.is_true((pub:join(5)))
      end)
    end

    it("works from a task, with the connection passed to it", function()
      local ch = conn:subscribe("spec.task")
      assert.is_true(conn:flush(2))
      local r = helper.within("task", function(c)
        c:publish("spec.task", { from = "task" })
        return tostring(c):match("^gochan.nats.conn")
      end, other)
      assert.same({ "gochan.nats.conn", n = 1 }, r)
      assert.same({ from = "task" }, (ch:recv(5)))
    end)

    it("delivers each message to one member of a queue group", function()
      local a = conn:subscribe("spec.work", { queue = "workers" })
      local b = other:subscribe("spec.work", { queue = "workers" })
      assert.is_true(conn:flush(2)); assert.is_true(other:flush(2))
      for i = 1, 40 do conn:publish("spec.work", i) end
      local seen, n = {}, 0
      while n < 40 do
        local i, v = gochan.select({ { "recv", a }, { "recv", b }, { "recv", gochan.after(5) } })
        assert.is_true(i < 3, "a message is missing")
        assert.is_nil(seen[v]); seen[v] = true; n = n + 1
      end
      assert.same({ nil, nil }, { a:recv(0.1) })
      assert.same({ nil, nil }, { b:try_recv() })
    end)

    it("drops and counts what a full channel cannot take", function()
      local ch = conn:subscribe("spec.full", { cap = 2 })
      assert.is_true(conn:flush(2))
      for i = 1, 10 do other:publish("spec.full", i) end
      assert.is_true(other:flush(2))
      eventually(function() return ch:dropped() + #ch == 10 end, "10 messages")
      assert.equal(8, ch:dropped())
      assert.same({ 1, 2 }, helper.drain(ch))
    end)

    it("ends a subscription with unsubscribe, closing its channel", function()
      local ch = conn:subscribe("spec.unsub")
      assert.is_true(conn:unsubscribe(ch))
      assert.is_false(conn:unsubscribe(ch))
      assert.same({ nil, false }, { ch:recv(1) })
    end)

    it("closes the channels of its subscriptions when the connection closes", function()
      local c = nats.connect(server.url)
      local ch = c:subscribe("spec.closing")
      c:close()
      assert.same({ nil, false }, { ch:recv(1) })
    end)

    it("checks subjects", function()
      assert.has_error(function() conn:publish("a b", 1) end,
        "bad argument #1 to 'publish' (invalid subject 'a b': subject contains whitespace)")
      assert.has_error(function() conn:publish("a..b", 1) end,
        "bad argument #1 to 'publish' (invalid subject 'a..b': subject has an empty token)")
      assert.has_error(function() conn:publish("a.*", 1) end,
        "bad argument #1 to 'publish' (invalid subject 'a.*': wildcards are not allowed in this subject)")
      assert.has_error(function() conn:publish("", 1) end,
        "bad argument #1 to 'publish' (invalid subject '': empty subject)")
      assert.has_error(function() conn:subscribe("a.>.b") end,
        "bad argument #1 to 'subscribe' (invalid subject 'a.>.b': '>' must be the last token)")
      assert.has_error(function() conn:subscribe("a", { cap = 0 }) end,
        "bad argument #2 to 'subscribe' ('cap' must be a positive integer)")
      assert.has_error(function() conn:request("a.*", 1) end,
        "bad argument #1 to 'request' (invalid subject 'a.*': wildcards are not allowed in this subject)")
      assert.has_error(function() conn:serve("a b", print) end,
        "bad argument #1 to 'serve' (invalid subject 'a b': subject contains whitespace)")
    end)

    it("refuses what cannot cross a network, with the path to it", function()
      assert.has_error(function() conn:publish("x", { h = { 1, print } }) end,
        "cannot send a function over NATS (at value.h[2])")
      assert.has_error(function() conn:publish("x", { m = gochan.mutex() }) end,
        "cannot send a gochan.mutex over NATS (at value.m)")
      local t = gochan.go(function() end)
      t:join(5)
      assert.has_error(function() conn:publish("x", { [t] = 1 }) end,
        "cannot send a gochan.task over NATS (at value<key>)")
      assert.has_error(function() conn:publish("x", coroutine.create(print)) end,
        "cannot send a coroutine over NATS (at value)")
      assert.has_error(function() conn:publish("x", function() end) end,
        "cannot send a function over NATS (at value)")
    end)

    it("drops a message that is not wire format, and counts it", function()
      local ch = conn:subscribe("spec.bad")
      assert.is_true(conn:flush(2))
      other:_raw("spec.bad", "not gochan")
      other:_raw("spec.bad", "\1\0\6\5")           -- a table of 5 pairs, cut
      other:publish("spec.bad", "fine")
      assert.same({ "fine", true }, { ch:recv(5) })
      local n, reason = conn:malformed()
      assert.equal(2, n)
      assert.equal("malformed message on 'spec.bad': table of more pairs than bytes left",
                   reason)
    end)
  end)

  describe("request() and serve()", function()
    it("answers with the handler's first result, from a task each", function()
      local srv = other:serve("spec.add", function(x) return x.a + x.b, "ignored" end)
      assert.is_true(other:flush(2))
      for _, where in ipairs(helper.PLACES) do
        local r = helper.within(where, function(c)
          return c:request("spec.add", { a = 1, b = 2 }, 5)
        end, conn)
        assert.same({ 3, n = 1 }, r)
      end
      other:close()
      assert.same({ true }, { srv:join(5) })
    end)

    it("gives an error in the handler to the requester as nil, err", function()
      local srv = other:serve("spec.fail", function() error("boom") end)
      assert.is_true(other:flush(2))
      local v, err = conn:request("spec.fail", 1, 5)
      assert.is_nil(v)
      assert.matches("boom$", err)
      v, err = conn:request("spec.fail", 1, 5)      -- the server goes on
      assert.is_nil(v)
      assert.matches("boom$", err)
      other:close()
      srv:join(5)
    end)

    it("answers a value the handler cannot send as an error", function()
      local srv = other:serve("spec.fn", function() return { f = print } end)
      assert.is_true(other:flush(2))
      assert.same({ nil, "cannot send a function over NATS (at value.f)" },
                  { conn:request("spec.fn", 1, 5) })
      other:close()
      srv:join(5)
    end)

    it("shares requests among a queue group", function()
      local s1 = conn:serve("spec.qs", function() return "one" end, { queue = "q" })
      local s2 = other:serve("spec.qs", function() return "two" end, { queue = "q" })
      assert.is_true(conn:flush(2)); assert.is_true(other:flush(2))
      local got = {}
      for _ = 1, 30 do got[conn:request("spec.qs", 0, 5)] = true end
      assert.same({ one = true, two = true }, got)
      conn:close(); other:close()
      s1:join(5); s2:join(5)
    end)

    it("says no responders at once when nobody serves the subject", function()
      local dt, r = helper.elapsed(conn.request, conn, "spec.nobody", 1, 5)
      assert.same({ nil, "no responders", n = 2 }, r)
      helper.assert_prompt(dt)
    end)

    it("gives up after its timeout or when its context is done", function()
      local mute = other:subscribe("spec.mute")   -- takes requests, never answers
      assert.is_true(other:flush(2))
      local dt, r = helper.elapsed(conn.request, conn, "spec.mute", 1, 0.2)
      assert.same({ nil, "timeout", n = 2 }, r)
      helper.assert_waited(dt, 0.2)
      local ctx, cancel = gochan.with_timeout(0.2)
      assert.same({ nil, "context deadline exceeded" }, { conn:request("spec.mute", 1, ctx) })
      cancel()
      r = helper.within("task", function(c)
        local cx, cc = require("gochan").with_cancel()
        cc()
        return c:request("spec.mute", 1, cx)
      end, conn)
      assert.same({ nil, "context canceled", n = 2 }, r)
      eventually(function() return #mute == 3 end, "3 requests")
      assert.has_error(function() conn:request("spec.mute", 1, "soon") end,
        "bad argument #3 to 'request' (number or gochan.context expected, got string)")
    end)

    it("answers a request that is not wire format with an error", function()
      local srv = other:serve("spec.raw", function() return "no" end)
      assert.is_true(other:flush(2))
      local ch = conn:subscribe("spec.rawreply")
      assert.is_true(conn:flush(2))
      -- a raw request cannot carry a reply subject here: the handler is
      -- not called, and the message is counted
      conn:_raw("spec.raw", "\2\0")
      eventually(function() return other:malformed() == 1 end, "the count")
      assert.same({ 1, "malformed message on 'spec.raw': wire format version 2 (this reads version 1)" },
                  { other:malformed() })
      assert.same({ nil, nil }, { ch:try_recv() })
      other:close()
      srv:join(5)
    end)
  end)

  describe("a channel inside a value", function()
    it("arrives as a channel whose send reaches the sender's channel", function()
      -- the pizzeria's quit <- chan error, across two connections
      local quit = other:subscribe("spec.quit")
      assert.is_true(other:flush(2))
      local shop = gochan.go(function(q)
        local errc = q:recv(5)
        errc:send("closed for the night")
        return true
      end, quit)
      local errc = gochan.chan()
      conn:publish("spec.quit", errc)
      assert.same({ "closed for the night", true }, { errc:recv(5) })
      assert.same({ true, true }, { shop:join(5) })
    end)

    it("carries close, and comes back as the same channel", function()
      local sub = other:subscribe("spec.chans")
      assert.is_true(other:flush(2))
      local mine = gochan.chan(4)
      conn:publish("spec.chans", { c = mine, again = mine })
      local got = sub:recv(5)
      assert.equal(got.c, got.again)
      got.c:send(1)
      got.c:send({ 2 })
      got.c:close()
      assert.same({ 1, true }, { mine:recv(5) })
      assert.same({ { 2 }, true }, { mine:recv(5) })
      assert.same({ nil, false }, { mine:recv(5) })
      -- a channel of ours sent back to us is our own
      local back = conn:subscribe("spec.back")
      assert.is_true(conn:flush(2))
      local c2 = gochan.chan(1)
      conn:publish("spec.chans", c2)
      other:publish("spec.back", sub:recv(5))
      assert.is_true(rawequal(c2, (back:recv(5))))
    end)
  end)
end)

describe("gochan.nats while the server is gone #subprocess", function()
  it("fails publish once the reconnect buffer is full, waits in receives, reconnects", function()
    local server = natsserver.start(true)
    local c = nats.connect(server.url, { reconnect_buffer = 4096, reconnect_wait = 0.05 })
    local ch = c:subscribe("spec.gone")
    assert.is_true(c:flush(2))
    server:stop()
    eventually(function() return c:status() ~= "connected" end, "the disconnect")
    local err
    for i = 1, 1000 do
      local ok, e = pcall(c.publish, c, "spec.gone", ("x"):rep(100) .. i)
      if not ok then err = e break end
    end
    assert.matches("publish failed: disconnected and the reconnect buffer is full$", err)
    local dt, r = helper.elapsed(ch.recv, ch, 0.2)
    assert.same({ n = 2 }, r)                       -- nil, nil: the timeout
    helper.assert_waited(dt, 0.2)
    assert(server:start())
    eventually(function() return c:status() == "connected" end, "the reconnect")
    -- the buffered messages went out on reconnect; the subscription is back
    assert.equal("x", (ch:recv(5)):sub(1, 1))
    helper.drain(ch)
    c:publish("spec.gone", "after")
    local v
    repeat v = ch:recv(5) until v == nil or v == "after"
    assert.equal("after", v)
    c:close()
    server:close()
  end)
end)
