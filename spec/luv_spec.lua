-- examples/luv_server.lua, a luv server that hands requests to gochan
-- tasks and writes replies when a notifier fires: started on a free
-- loopback port in a subprocess (the module paths busted uses, so an ASan
-- run tests the ASan build), driven with 1,000 pipelined requests from a
-- luv client in this process, every reply checked, and the server's 10 ms
-- timer seen to keep ticking; then told to quit, and its exit checked.

local uv = require "luv"

local N, WORK = 1000, 2000
local TIMEOUT = 60           -- seconds the whole exchange may take

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function expected (n)
  local s = 0
  for k = 1, n do s = s + k % 7 end
  return s
end

-- Connect to 'port', send 'lines' (pipelined), collect 'want' reply lines.
local function exchange (port, lines, want)
  local replies, buf, done, failure = {}, "", false, nil
  local client = uv.new_tcp()
  local timer = uv.new_timer()
  timer:start(TIMEOUT * 1000, 0, function()
    failure = "timed out"
    uv.stop()
  end)
  client:connect("127.0.0.1", port, function(err)
    if err then failure = err; uv.stop(); return end
    client:read_start(function(rerr, data)
      if rerr or not data then     -- the server closed it ("quit")
        if #replies >= want then done = true else failure = rerr or "closed early" end
        uv.stop()
        return
      end
      buf = buf .. data
      for line in buf:gmatch("([^\n]*)\n") do replies[#replies + 1] = line end
      buf = buf:match("[^\n]*$")
      if #replies >= want then done = true; uv.stop() end
    end)
    client:write(table.concat(lines, "\n") .. "\n")
  end)
  uv.run()
  timer:close()
  client:close()
  uv.run("nowait")
  assert(done, failure)
  return replies
end

describe("examples/luv_server.lua", function()
  it("answers 1,000 requests through tasks while its timer keeps ticking", function()
    local cmd = ("export LUA_PATH=%s LUA_CPATH=%s; exec timeout %d lua5.4 examples/luv_server.lua 0")
      :format(q(package.path), q(package.cpath), TIMEOUT + 30)
    local p = assert(io.popen(cmd))
    local port = tonumber((p:read("l") or ""):match("^listening (%d+)$"))
    assert.is_number(port)
    local lines = {}
    for i = 1, N do lines[i] = ("sum r%d %d"):format(i, WORK + i) end
    local t0 = uv.hrtime()
    local replies = exchange(port, lines, N)
    local secs = (uv.hrtime() - t0) / 1e9
    local seen = {}
    for _, r in ipairs(replies) do
      local i, s = r:match("^r(%d+) (%d+)$")
      i = tonumber(i)
      assert(i and not seen[i], "unexpected reply: " .. r)
      assert.equal(expected(WORK + i), tonumber(s))
      seen[i] = true
    end
    assert.equal(N, #replies)
    local stats = exchange(port, { "ticks" }, 1)[1]
    local ticks, up = stats:match("^ticks (%d+) (%S+)$")
    ticks, up = tonumber(ticks), tonumber(up)
    -- a 10 ms timer: at least a third of its nominal rate over the run,
    -- also while the tasks computed (sanitizer builds are slow)
    assert.is_true(ticks >= up * 100 / 3, stats)
    assert.is_true(secs < TIMEOUT)
    exchange(port, { "quit" }, 0)
    local ok, how, code = p:close()
    assert.same({ true, "exit", 0 }, { ok, how, code })
  end)
end)
