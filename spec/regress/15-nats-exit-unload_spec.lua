-- A process that exits (its main state closed, so its C modules unloaded)
-- while a NATS connection is open and messages arrive: the client's thread
-- ran the unloaded gochan.nats library's callback and the process died of
-- SIGSEGV (about 4 runs in 10). gochan.nats now pins its library, as
-- gochan.core does.
local helper = require "spec.helper"
local natsserver = require "spec.natsserver"

if not natsserver.runnable("gochan.nats exit (regression)") then return end

describe("gochan.nats exit (regression) #subprocess", function()
  it("exits cleanly with a connection open and messages arriving", function()
    local server = natsserver.start(true)
    local src = ([[
      local gochan = require "gochan"
      local nats = require "gochan.nats"
      local a, b = nats.connect(%q), nats.connect(%q)
      local ch = a:subscribe("x", { cap = 4 })
      b:flush(2)
      gochan.go(function (conn) for i = 1, 1e9 do conn:publish("x", i) end end, b)
      assert(ch:recv(5))
      os.exit(0, true)
    ]]):format(server.url, server.url)
    local fails = {}
    for i = 1, 10 do
      local out, code = helper.run_lua(src, 20)
      if code ~= 0 then fails[#fails + 1] = ("run %d: exit %d %s"):format(i, code, out) end
    end
    server:close()
    assert.same({}, fails)
  end)
end)
