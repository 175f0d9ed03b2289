-- A luv TCP server in the main state that hands each request to gochan
-- tasks (CPU work in parallel on every core) and writes the replies when
-- a notifier says results are waiting: the loop never blocks on a channel.
--
--   lua5.4 examples/luv_server.lua [port [mode]]
--
-- Port 0 (the default) picks a free one; the first line printed is
-- "listening <port>". One request per line, one reply per line:
--   "sum <id> <n>"   -> "<id> <sum of i % 7 for i = 1..n>"  (a task computes it)
--   "echo <text>"    -> "<text>"                            (through a task)
--   "ticks"          -> "ticks <n> <seconds>"  (the loop's 10 ms timer so far)
--   "quit"           -> stops the server
-- Mode "plain" answers "echo" in the read callback, without tasks (the
-- baseline bench/eventloop.lua compares against).
local uv = require "luv"
local gochan = require "gochan"

local port = tonumber(arg and arg[1]) or 0
local plain = (arg and arg[2]) == "plain"

local jobs, results = gochan.chan(4096), gochan.chan(4096)
local workers = {}
for i = 1, math.max(2, #uv.cpu_info()) do
  workers[i] = gochan.go(function(jobs_, results_)
    for job in jobs_:range() do
      local reply = job.text
      if job.n then
        local s = 0
        for k = 1, job.n do s = s + k % 7 end
        reply = job.id .. " " .. s
      end
      results_:send({ client = job.client, reply = reply })
    end
  end, jobs, results)
end

local clients, nextclient = {}, 0
local nt = gochan.notifier(results)
local poll = uv.new_poll(nt:fd())
poll:start("r", function()
  nt:clear()                            -- first clear, then drain
  while true do
    local r = results:try_recv()
    if r == nil then break end
    local c = clients[r.client]
    if c then c:write(r.reply .. "\n") end
  end
end)

local ticks, t0 = 0, uv.hrtime()
local ticker = uv.new_timer()
ticker:start(10, 10, function() ticks = ticks + 1 end)

local server = uv.new_tcp()
assert(server:bind("127.0.0.1", port))

local function stop ()
  poll:stop(); poll:close()
  ticker:stop(); ticker:close()
  server:close()
  for _, c in pairs(clients) do if not c:is_closing() then c:close() end end
end

local function handle (id, client, line)
  local rid, n = line:match("^sum (%S+) (%d+)$")
  if rid then
    assert(jobs:send({ client = id, id = rid, n = tonumber(n) }, 0), "jobs full")
  elseif line:sub(1, 5) == "echo " then
    if plain then client:write(line:sub(6) .. "\n")
    else assert(jobs:send({ client = id, text = line:sub(6) }, 0), "jobs full") end
  elseif line == "ticks" then
    client:write(("ticks %d %.3f\n"):format(ticks, (uv.hrtime() - t0) / 1e9))
  elseif line == "quit" then
    stop()
  else
    client:write("error: unknown request\n")
  end
end

assert(server:listen(128, function(err)
  assert(not err, err)
  local client = uv.new_tcp()
  server:accept(client)
  nextclient = nextclient + 1
  local id, buf = nextclient, ""
  clients[id] = client
  client:read_start(function(rerr, data)
    if rerr or not data then
      clients[id] = nil
      if not client:is_closing() then client:close() end
      return
    end
    buf = buf .. data
    for line in buf:gmatch("([^\n]*)\n") do handle(id, client, line) end
    buf = buf:match("[^\n]*$")
  end)
end))

print("listening " .. server:getsockname().port)
io.stdout:flush()
uv.run()

jobs:close()
for _, t in ipairs(workers) do assert(t:join(10)) end
nt:close()
