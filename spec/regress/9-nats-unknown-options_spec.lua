-- gochan.nats ignored a key it does not know in an option table, so a
-- misspelt option (conn:subscribe("jobs", { queu = "w" })) silently did
-- something else than asked; every option table raises for one, as
-- gochan.spawn and gochan.config do, before anything is done.
local natsserver = require "spec.natsserver"
local helper = require "spec.helper"

if not natsserver.runnable("gochan.nats unknown options (regression)") then return end

local nats = require "gochan.nats"

describe("gochan.nats option tables (regression)", function()
  local server, conn

  setup(function() server = natsserver.start() end)
  teardown(function() if server then server:close() end end)
  before_each(function() conn = nats.connect(server.url) end)
  after_each(function() conn:close() end)

  it("connect raises for an unknown option", function()
    assert.equal("bad argument #2 to 'connect' (unknown option 'timout')",
                 helper.message(function() return nats.connect(server.url, { timout = 1 }) end))
    assert.equal([[bad argument #2 to 'connect' (unknown option "name\0")]],
                 helper.message(function() return nats.connect(server.url, { ["name\0"] = "x" }) end))
    assert.equal("bad argument #2 to 'connect' (unknown option (a number key))",
                 helper.message(function() return nats.connect(server.url, { "x" }) end))
  end)

  it("subscribe and serve raise for an unknown option", function()
    assert.equal("bad argument #2 to 'subscribe' (unknown option 'queu')",
                 helper.message(function() return conn:subscribe("x", { queu = "w" }) end))
    assert.equal("bad argument #3 to 'serve' (unknown option 'queu')",
                 helper.message(function() return conn:serve("x", print, { queu = "w" }) end))
    assert.equal("bad argument #3 to 'serve' (unknown option (a boolean key))",
                 helper.message(function() return conn:serve("x", print, { [true] = 1 }) end))
  end)

  it("serve names itself for its options' other errors", function()
    assert.equal("bad argument #3 to 'serve' ('cap' must be a positive integer)",
                 helper.message(function() return conn:serve("x", print, { cap = 0 }) end))
  end)

  it("channel raises for an unknown option", function()
    assert.equal("bad argument #2 to 'channel' (unknown option 'ackwait')",
                 helper.message(function() return conn:channel("spec-opts", { ackwait = 1 }) end))
  end)

  it("still takes the options it knows, and the connection is as it was", function()
    local c2 = nats.connect(server.url, { name = "spec", timeout = 2, reconnect_wait = 1,
                                          reconnect_buffer = 1024 })
    c2:close()
    local ch = conn:subscribe("spec.opts", { queue = "w", cap = 4 })
    assert.is_true(conn:flush(2))
    conn:publish("spec.opts", 1)
    assert.equal(1, ch:recv(5))
  end)
end)
