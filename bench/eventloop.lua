-- bench/eventloop.lua: gochan in an event loop (docs/eventloop.md).
--   1. examples/host/uvhost.c (build/uvhost): the ticks per second of its
--      10 ms libuv timer while two tasks compute (nominal 100).
--   2. examples/luv_server.lua: sequential round trips ("echo", one
--      request in flight) through a task and the notifier, against the
--      same server answering in its read callback (mode plain), in the
--      same run. Target: the task path within 3x the plain one.
-- Usage: lua5.4 bench/eventloop.lua [--quick]   (LUA_PATH/LUA_CPATH as ./dev sets)
local uv = require "luv"

local here = (arg and arg[0] or ""):match("^(.*)/") or "."
local root = here .. "/.."
local quick = arg[1] == "--quick"
local K = quick and 300 or 5000

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- 1. uvhost
local host = root .. "/build/uvhost"
local f = io.open(host, "r")
if f then
  f:close()
  local p = assert(io.popen(q(host) .. " " .. (quick and 200 or 1000)))
  local out = p:read("a")
  p:close()
  local rate = out:match("%(([%d.]+)/s%)")
  print(("EVENTLOOP uvhost_ticks_per_s %s  (10 ms timer, two tasks computing; nominal 100, test floor 50)")
    :format(rate or "?"))
else
  print("EVENTLOOP uvhost not built (libuv missing)")
end

-- 2. luv round trips
local function server (mode)
  local p = assert(io.popen(("exec %s %s 0 %s"):format(
    "lua5.4", q(root .. "/examples/luv_server.lua"), mode)))
  local port = tonumber((p:read("l") or ""):match("^listening (%d+)$"))
  assert(port, "the server did not start")
  return p, port
end

-- K sequential round trips on one connection; seconds per round trip.
local function roundtrips (port, k, last)
  local client = uv.new_tcp()
  local n, buf, t0, t1 = 0, "", nil, nil
  client:connect("127.0.0.1", port, function(err)
    assert(not err, err)
    client:read_start(function(rerr, data)
      assert(not rerr and data, rerr or "closed")
      buf = buf .. data
      while buf:find("\n") do
        buf = buf:gsub("^[^\n]*\n", "", 1)
        n = n + 1
        if n == k then t1 = uv.hrtime(); uv.stop(); return end
        client:write("echo x\n")
      end
    end)
    t0 = uv.hrtime()
    client:write("echo x\n")
  end)
  uv.run()
  if last then client:write("quit\n") end
  client:close()
  uv.run("nowait")
  return (t1 - t0) / 1e9 / k
end

-- Both servers up at once; rounds alternate between them; medians.
local servers = {}
for _, mode in ipairs({ "plain", "task" }) do
  local p, port = server(mode)
  roundtrips(port, 50)                      -- warm up (tasks, connection)
  servers[mode] = { p = p, port = port, t = {} }
end
local ROUNDS = quick and 1 or 5
for r = 1, ROUNDS do
  for _, mode in ipairs({ "plain", "task" }) do
    local s = servers[mode]
    s.t[#s.t + 1] = roundtrips(s.port, K, r == ROUNDS)
  end
end
local function median (t)
  table.sort(t)
  return t[(#t + 1) // 2]
end
local task, plain = median(servers.task.t), median(servers.plain.t)
for _, s in pairs(servers) do s.p:close() end
print(("EVENTLOOP luv_roundtrip_us task %.1f plain %.1f ratio %.2f (target <= 3; median of %d x %d)")
  :format(task * 1e6, plain * 1e6, task / plain, ROUNDS, K))
