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
local math_min, tostring = math.min, tostring

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

-- 'name' for a message, or quoted whole as %q does when it holds a zero
-- byte (as the C calls name a subject: '%s' would show it cut there).
local function showname(s)
  if s:find("\0", 1, true) then return ("%q"):format(s) end
  return "'" .. s .. "'"
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
    argerror(1, "serve", ("invalid subject %s: %s"):format(showname(subject), why))
  end
  if not callable(fn) then
    argerror(2, "serve", "function expected, got " .. type(fn))
  end
  if opts ~= nil and type(opts) ~= "table" then
    argerror(3, "serve", "table expected, got " .. type(opts))
  end
  why = core._subopts_problem(opts)     -- an unknown key, a bad value
  if why then argerror(3, "serve", why) end
  local ch = self:_requests(subject, opts)
  return gochan.go(serveloop, self, ch, fn)
end

-- Distributed channels: conn:channel(name [, opts]) (C, jschan.c) gives
-- a table { _conn, _name, _rc, _cap } whose metatable is M.Chan, a field
-- of this module (so it crosses to tasks by name). Values are received
-- through _rc, a local unbuffered channel the connection's fetcher feeds
-- while a receiver waits on it (so select, range, timeouts and contexts
-- are those of a gochan channel); sends go to the stream (conn:_jsend).
local Chan = core._Chan
M.Chan = Chan
Chan.__index = {}
local ChanM = Chan.__index

local function checkchan(self, fname)
  if getmetatable(self) ~= Chan then
    error(("calling '%s' on bad self (gochan.nats.chan expected, got %s)")
          :format(fname, type(self)), 3)
  end
end

-- The wait of send: nil, a number of seconds or a context.
local function checkwait(w, fname)
  if w ~= nil and type(w) ~= "number" and
     not (type(w) == "userdata" and tostring(w):find("^gochan%.context")) then
    argerror(2, fname, "number or gochan.context expected, got " .. type(w))
  end
end

--- ch:send(v [, timeout | ctx]) -> true | false | false, err
-- Stores v in the stream. While it holds cap values not yet acknowledged
-- the server refuses it: send waits and tries again (pauses doubling from
-- 2 ms to 50 ms) until it is taken, the timeout passes or ctx is done.
function ChanM.send(self, v, w)
  checkchan(self, "send")
  checkwait(w, "send")
  local ctx = type(w) == "userdata" and w or nil
  local deadline = type(w) == "number" and gochan.now() + w or nil
  local pause = 0.002
  while true do
    local res = self._conn:_jsend(self._name, v)
    local left = deadline and deadline - gochan.now()
    local r, _, err
    if ctx then r, _, err = res:recv(ctx)
    else r = res:recv(left and (left > 0 and left or 0) or nil) end
    if r == "ok" then return true
    elseif r == "closed" then error("send on closed channel", 2)
    elseif r == nil then
      if err then return false, err end
      if left then return false end
      error("send failed: connection closed", 2)
    elseif r ~= "full" then error(r, 2) end
    left = deadline and deadline - gochan.now()
    if left and left <= 0 then return false end
    local wait = left and math_min(pause, left) or pause
    if ctx then
      local i, e = gochan.select({ { "recv", gochan.after(wait) } }, ctx)
      if not i then return false, e end
    else
      gochan.sleep(wait)
    end
    pause = math_min(pause * 2, 0.05)
  end
end

--- ch:recv([timeout | ctx]): as a gochan channel's. Waiting acknowledges
-- the value this connection's receivers took last.
function ChanM.recv(self, w)
  checkchan(self, "recv")
  return self._rc:recv(w)
end

--- ch:try_recv() -> nil, nil | nil, false: values are fetched only for a
-- receiver that waits, so there is never one ready; closed: nil, false.
function ChanM.try_recv(self)
  checkchan(self, "try_recv")
  return self._rc:try_recv()
end

function ChanM.range(self, ctx)
  checkchan(self, "range")
  return self._rc:range(ctx)
end

--- ch:ack() -> boolean: acknowledge the value last received here now
-- (false: none was waiting for it).
function ChanM.ack(self)
  checkchan(self, "ack")
  return self._conn:_jack(self._name)
end

--- ch:close(): recorded in the stream (see jschan.c).
function ChanM.close(self)
  checkchan(self, "close")
  local ok, err = pcall(self._conn._jclose, self._conn, self._name)
  if not ok then error(err, 2) end
end

function ChanM.cap(self)
  checkchan(self, "cap")
  return self._cap
end

function ChanM.name(self)
  checkchan(self, "name")
  return self._name
end

-- select: a recv case on ch waits on _rc; a send case is refused (a
-- send must reach the stream and may be refused by it: ch:send).
function Chan.__chan(self, dir)
  if dir ~= "recv" then
    error("a distributed channel cannot be a send case of select (use ch:send)", 0)
  end
  return self._rc
end

function Chan.__tostring(self)
  return ("gochan.nats.chan '%s' (cap=%d)"):format(self._name, self._cap)
end

function Chan.__eq(a, b)
  return a._name == b._name and a._conn == b._conn
end

return M
