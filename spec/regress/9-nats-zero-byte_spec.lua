-- gochan.nats and zero bytes: the NATS C client takes C strings, so a URL
-- or a connection name with a zero byte was cut there ("nats://h:p\0x"
-- connected to nats://h:p), and a queue name with one was refused as
-- "not a name without spaces"; they raise a clear error. A subject with
-- one was refused, but its message printed it with '%s', cut at the zero
-- ("invalid subject 'a': ..."): it is quoted whole, as %q does.
local natsserver = require "spec.natsserver"
local helper = require "spec.helper"

if not natsserver.runnable("gochan.nats zero bytes (regression)") then return end

local nats = require "gochan.nats"

describe("gochan.nats given a zero byte (regression)", function()
  local server, conn

  setup(function() server = natsserver.start() end)
  teardown(function() if server then server:close() end end)
  before_each(function() conn = nats.connect(server.url) end)
  after_each(function() conn:close() end)

  it("refuses it in a URL", function()
    assert.equal("bad argument #1 to 'connect' (URL contains a zero byte)",
                 helper.message(function() return nats.connect(server.url .. "\0junk") end))
  end)

  it("refuses it in a connection name", function()
    assert.equal("bad argument #2 to 'connect' ('name' contains a zero byte)",
                 helper.message(function() return nats.connect(server.url, { name = "spec\0x" }) end))
  end)

  it("refuses it in a queue name", function()
    assert.equal("bad argument #2 to 'subscribe' ('queue' contains a zero byte)",
                 helper.message(function() return conn:subscribe("x", { queue = "w\0x" }) end))
    assert.equal("bad argument #3 to 'serve' ('queue' contains a zero byte)",
                 helper.message(function() return conn:serve("x", print, { queue = "w\0x" }) end))
  end)

  it("quotes a subject with one whole", function()
    local why = [[(invalid subject "a\0b": subject contains a zero byte)]]
    assert.equal("bad argument #1 to 'subscribe' " .. why,
                 helper.message(function() return conn:subscribe("a\0b") end))
    assert.equal("bad argument #1 to 'publish' " .. why,
                 helper.message(function() return conn:publish("a\0b", 1) end))
    assert.equal("bad argument #1 to 'request' " .. why,
                 helper.message(function() return conn:request("a\0b", 1, 1) end))
    assert.equal("bad argument #1 to 'serve' " .. why,
                 helper.message(function() return conn:serve("a\0b", print) end))
  end)

  it("leaves the connection as it was", function()
    local ch = conn:subscribe("spec.zero")
    assert.is_true(conn:flush(2))
    conn:publish("spec.zero", "ok")
    assert.equal("ok", ch:recv(5))
    assert.equal("connected", conn:status())
  end)
end)
