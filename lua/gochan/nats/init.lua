-- gochan.nats: gochan channels over NATS. This is what `require "gochan.nats"`
-- returns: the C module gochan.nats.core (connect and the connection's
-- methods, built where the NATS C client is installed) plus serve, written
-- here over a subscription and tasks.
--
-- A connection is a table whose metatable is M.Conn, a field of this
-- module, so it crosses to tasks by name (docs/transfer.md) and names the
-- same connection there.

local ok, core = pcall(require, "gochan.nats.core")
if not ok then
  error("gochan.nats is not available: its C module (gochan/nats/core.so) " ..
        "is built only where the NATS C client is installed (Debian: " ..
        "libnats-dev; see README.md, 'Channels over NATS')\n" .. tostring(core), 2)
end
local gochan = require "gochan"

local error, getmetatable, pcall, type = error, getmetatable, pcall, type

local M = {
  connect = core.connect,
  _encode = core._encode,
  _decode = core._decode,
}

-- The metatable of every connection; its __index holds the methods.
local Conn = core._Conn
M.Conn = Conn

local function argerror(n, fname, msg)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), 3)
end

local function callable(f)
  if type(f) == "function" then return true end
  local mt = getmetatable(f)
  return type(mt) == "table" and mt.__call ~= nil
end

-- One request: fn(v) in a task of its own; the answer goes to m.r (when
-- the requester gave a reply subject).
local function answer(conn, m, fn)
  if m.e ~= nil then                      -- a request that was not wire format
    if m.r then conn:_reply(m.r, false, m.e) end
    return
  end
  local okf, res = pcall(fn, m.v)
  if m.r then conn:_reply(m.r, okf, res) end
end

local function serveloop(conn, ch, fn)
  local go = require("gochan").go
  for m in ch:range() do go(answer, conn, m, fn) end
end

--- conn:serve(subject, fn [, {queue = name, cap = n}]) -> task
-- Runs fn(v) in a task for each request on `subject` and replies with its
-- first result; an error in fn reaches the requester as nil, err. The task
-- ends when the connection closes (or conn:unsubscribe of its channel).
function Conn.__index.serve(self, subject, fn, opts)
  if getmetatable(self) ~= Conn then
    error(("calling 'serve' on bad self (gochan.nats.conn expected, got %s)")
          :format(type(self)), 2)
  end
  if type(subject) ~= "string" then
    argerror(1, "serve", "string expected, got " .. type(subject))
  end
  local why = core._subject_problem(subject, true)
  if why then
    argerror(1, "serve", ("invalid subject '%s': %s"):format(subject, why))
  end
  if not callable(fn) then
    argerror(2, "serve", "function expected, got " .. type(fn))
  end
  if opts ~= nil and type(opts) ~= "table" then
    argerror(3, "serve", "table expected, got " .. type(opts))
  end
  local ch = self:_requests(subject, opts)
  return gochan.go(serveloop, self, ch, fn)
end

return M
