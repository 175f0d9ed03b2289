-- bench/nats.lua: messages/s through NATS, gochan.nats beside the same
-- workloads written directly against the NATS C client (bench/nats_bare.c,
-- built here with cc -lnats), in the same run, against a nats-server
-- (-js, temporary storage) started here on a free 127.0.0.1 port.
--
--   ./dev build
--   LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/?.so;;" \
--     lua5.4 bench/nats.lua [N]            (from the repository root)
--
-- pubsub: N publishes to a subscription of the same connection, all
-- received (a gochan channel of cap N). jschan: N sends on a distributed
-- channel (each waits for the server's ack), then N receives (each a fetch
-- and, at the next, an ack); counted as 2N messages, as the C side counts.
package.path = "./?.lua;" .. package.path
local gochan = require "gochan"
local nats = require "gochan.nats"
local natsserver = require "spec.natsserver"

local N = tonumber(arg[1]) or 20000
local NJS = math.max(N // 10, 100)

local bare = os.tmpname()
assert(os.execute(("cc -O2 -o %s bench/nats_bare.c -lnats"):format(bare)),
       "cannot build bench/nats_bare.c (libnats-dev)")

local server = natsserver.start(true)

local function run_bare(what, n)
  local p = assert(io.popen(("%s %s %s %d"):format(bare, server.url, what, n)))
  local out = p:read("a")
  p:close()
  return tonumber(out:match("%S+ (%d+)"))
end

local function pubsub(n)
  local c = nats.connect(server.url)
  local ch = c:subscribe("bench.lua", { cap = n })
  assert(c:flush(5))
  local payload = "0123456789abcdef"
  local t0 = gochan.now()
  for _ = 1, n do c:publish("bench.lua", payload) end
  for _ = 1, n do assert(ch:recv(10)) end
  local rate = n / (gochan.now() - t0)
  c:close()
  return rate
end

local function jschan(n)
  local c = nats.connect(server.url)
  c:delete_channel("bench")
  local ch = c:channel("bench", { cap = n })
  local payload = "0123456789abcdef"
  local t0 = gochan.now()
  for _ = 1, n do assert(ch:send(payload, 10)) end
  for _ = 1, n do assert(ch:recv(10)) end
  ch:ack()
  local rate = 2 * n / (gochan.now() - t0)
  c:delete_channel("bench")
  c:close()
  return rate
end

print(("%-30s %14s %14s"):format("workload", "gochan.nats", "C client"))
local rows = {
  { ("publish/subscribe (%d)"):format(N), pubsub, "pubsub", N },
  { ("distributed channel (%d)"):format(NJS), jschan, "jschan", NJS },
}
for _, r in ipairs(rows) do
  local g = r[2](r[4])
  local b = run_bare(r[3], r[4])
  print(("%-30s %11.0f/s %11.0f/s"):format(r[1], g, b or 0/0))
end
server:close()
os.remove(bare)
