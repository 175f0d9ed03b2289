-- spec/natsserver.lua: a nats-server for the specs (spec/nats_spec.lua):
-- started on a free 127.0.0.1 port with JetStream and temporary storage,
-- ready once a connect succeeds (polled, never a blind sleep), stopped and
-- restarted on the same port. GOCHAN_NATS_URL names a server started
-- outside instead (./dev tsan: a process under ThreadSanitizer must not
-- fork); specs that stop the server are tagged #subprocess.

local M = {}

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>/dev/null"))
  local out = p:read("a")
  p:close()
  return out
end

-- ok | false, why: can the NATS specs run here?
function M.available()
  local ok, err = pcall(require, "gochan.nats")
  if not ok then
    return false, "gochan.nats is not built (install libnats-dev, rebuild): "
                  .. tostring(err):match("^[^\n]*")
  end
  if os.getenv("GOCHAN_NATS_URL") then return true end
  if sh("command -v nats-server") == "" then
    return false, "nats-server is not on PATH (Debian: nats-server, in /usr/sbin)"
  end
  return true
end

-- true if the specs of 'title' can run here; else false, having
-- registered them as pending with the reason (or raised, with CI=true: a
-- missing component is a failure there, never a skip). 'why' (optional)
-- is a further reason of the caller's own (e.g. python3 missing).
function M.runnable(title, why)
  local ok, reason = M.available()
  if ok and not why then return true end
  reason = reason or why
  if os.getenv("CI") == "true" then
    error(title .. " specs cannot run in CI: " .. reason)
  end
  -- busted's functions: this module's globals are not the spec file's
  local busted = require "busted"
  busted.describe(title, function() busted.pending("skipped: " .. reason) end)
  return false
end

local Server = {}
Server.__index = Server

-- Connect, polling until the server answers (at most 'seconds').
local function waitready(url, seconds)
  local gochan, nats = require "gochan", require "gochan.nats"
  local deadline = gochan.now() + seconds
  while true do
    local ok, c = pcall(nats.connect, url, { timeout = 0.2 })
    if ok then c:close() return true end
    if gochan.now() > deadline then return false, c end
    gochan.sleep(0.02)
  end
end

local function alive(pid)
  return os.execute(("kill -0 %d 2>/dev/null"):format(pid)) == true
end

function Server:start()
  local cmd = ("nats-server -js -a 127.0.0.1 -p %d -sd %s >>%s/log 2>&1 & echo $!")
              :format(self.port, self.dir, self.dir)
  self.pid = assert(tonumber(sh(cmd)), "nats-server did not start")
  local ok, err = waitready(self.url, 5)
  if ok and not alive(self.pid) then        -- someone else's server answered
    ok, err = false, "port in use"
  end
  if not ok then
    self:stop()
    return nil, err
  end
  return self
end

-- Stop the server and wait until its process is gone.
function Server:stop()
  if not self.pid then return end
  os.execute(("kill %d 2>/dev/null"):format(self.pid))
  local gochan = require "gochan"
  local deadline = gochan.now() + 5
  while alive(self.pid) and gochan.now() < deadline do gochan.sleep(0.01) end
  if alive(self.pid) then os.execute(("kill -9 %d 2>/dev/null"):format(self.pid)) end
  self.pid = nil
end

function Server:restart()
  self:stop()
  return self:start()
end

-- Stop it for good and remove its storage.
function Server:close()
  self:stop()
  if self.dir then os.execute("rm -rf " .. self.dir) end
end

-- A new server, running: { url, port, stop, restart, close }. An outside
-- server (GOCHAN_NATS_URL) when 'own' is not asked for.
function M.start(own)
  local url = os.getenv("GOCHAN_NATS_URL")
  if url and not own then
    assert(waitready(url, 5), "no server at GOCHAN_NATS_URL " .. url)
    return setmetatable({ url = url, stop = function() end,
                          close = function() end }, Server)
  end
  local dir = sh("mktemp -d /tmp/gochan-nats.XXXXXX"):gsub("%s+$", "")
  assert(dir ~= "", "mktemp failed")
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 1000)
  local last
  for _ = 1, 10 do                      -- a port in use: try another
    local port = math.random(20000, 60000)
    local s = setmetatable({ port = port, dir = dir,
                             url = ("nats://127.0.0.1:%d"):format(port) }, Server)
    local ok, err = s:start()
    if ok then return s end
    last = err
  end
  os.execute("rm -rf " .. dir)
  error("cannot start nats-server: " .. tostring(last))
end

return M
