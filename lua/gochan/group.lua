-- gochan.group: Go's errgroup on gochan's own objects (API.md "Groups").
--
-- A group is a table of gochan objects, all shared by reference, under a
-- metatable that is a field of this module, so that a group sent to a task
-- arrives there as the same group (its fields the same objects, its class
-- this module's):
--
--   ctx          the group's context (a child of the one given)
--   wg           counts the tasks of the group that have not ended
--   cell         a channel of capacity 1 that holds the group's one mutable
--                record { limit = n | false, tokens = ch | false }: whoever
--                takes it out owns it until it is sent back, so every change
--                to it is atomic; it is empty only while someone holds it (a
--                short, never blocking, section)
--   running      an atomic: the tasks started and not ended
--   failed       an atomic, 0 until the first failure, then 1 for good: the
--                task that sets it is the one whose failure the group keeps
--   first        a channel of capacity 1: empty until that task puts the
--                record { err, tb } of its failure there (before its wg:done,
--                so wait finds it); a reader takes it out and sends it back
--
-- A task of the group ends its bookkeeping (G.run) with calls that never
-- block: in a task that was canceled every blocking call raises, and the
-- group would never learn that the task ended.
--
-- With a limit of n, 'tokens' is a channel of capacity n: a task of the
-- group holds one of its slots while it runs (go sends before it starts the
-- task, the task receives when it ends), so go waits while n run.

local gochan = require "gochan.core"   -- (the table `require "gochan"` is)

local error, getmetatable, pcall, setmetatable, type, xpcall =
      error, getmetatable, pcall, setmetatable, type, xpcall
local pack, unpack = table.pack, table.unpack
local traceback, getregistry = debug.traceback, debug.getregistry
local find, sub = string.find, string.sub
local RETHROWN = "gochan.rethrown"      -- LTASK_RETHROWN in src/lua/ltypes.h

local G = {}

local Group = {}
Group.__index = Group
Group.__name = "gochan.group"
G.mt = Group                           -- a field of the module: crosses by name

local T = 3600                         -- the record is held for microseconds

-- Take the record out of 'cell' (g.cell or g.first): waits only for
-- another holder's short section.
local function take (cell)
  local rec, ok = cell:recv(T)
  if not ok then error("gochan.group: the group's record was lost", 3) end
  return rec
end

-- Give it back: never blocks (the holder alone refills the empty cell), so
-- it cannot raise in a task that was canceled meanwhile and lose the record.
local function put (cell, rec)
  if not cell:try_send(rec) then error("gochan.group: the group's record was doubled", 3) end
end

-- Raise "bad argument #n to 'fname' (msg)" at the line that called the
-- method or function 'fname' of this module: 'depth' is how many of this
-- file's functions are between it and argerror (0: it called argerror).
local function argerror (n, fname, msg, depth)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), 3 + (depth or 0))
end

local function typename (v)
  local mt = getmetatable(v)
  if type(mt) == "table" and type(mt.__name) == "string" then return mt.__name end
  return type(v)
end

-- Contexts: their metatable, and a method that raises only for a context
-- whose __gc was called by hand (its box emptied).
local Context = getmetatable(gochan.background())
local ctxerr = Context.__index.err

-- Check the context 'v' given as argument #n of 'fname' ('depth': as
-- argerror's, for checkctx's caller): a live gochan.context, else
-- "<expected> expected, got X" or "object already collected", as the C
-- calls that take one say.
local function checkctx (v, n, fname, expected, depth)
  if getmetatable(v) ~= Context then
    argerror(n, fname, expected .. " expected, got " .. typename(v), depth + 1)
  end
  if not pcall(ctxerr, v) then argerror(n, fname, "object already collected", depth + 1) end
end

local function checkgroup (g, fname)
  if getmetatable(g) ~= Group then
    error(("calling '%s' on bad self (gochan.group expected, got %s)")
      :format(fname, typename(g)), 3)
  end
  return g
end

--- gochan.group([ctx]) -> g, gctx
function G.new (ctx)
  if ctx ~= nil then checkctx(ctx, 1, "group", "gochan.context", 0) end
  local gctx = gochan.with_cancel(ctx)
  local cell = gochan.chan(1)
  put(cell, { limit = false, tokens = false })
  local g = setmetatable({
    ctx = gctx, wg = gochan.waitgroup(), cell = cell,
    running = gochan.atomic(0), failed = gochan.atomic(0), first = gochan.chan(1),
  }, Group)
  return g, gctx
end

-- Keep the group's first failure, 'e' raised with traceback 'tb', in
-- g.first (its setter alone sends there) as join gives it, and cancel the
-- group's context with 'e' as the cause. Never blocks. As join gives it: a
-- string error is the message followed by the traceback, except the
-- task's own cancel ('canceled'), which is the message alone; a value
-- that cannot cross between states becomes a string that says so.
local function record (g, e, tb, canceled)
  local ok, refusal = pcall(g.first.try_send, g.first,
    { err = (type(e) == "string" and not canceled) and e .. "\n" .. tb or e, tb = tb })
  if not ok then
    e = ("(error object is a %s value that cannot cross: %s)"):format(
      type(e), (refusal:gsub("%(at value%.err", "(at error", 1)))
    g.first:try_send({ err = e .. "\n" .. tb, tb = tb })
  end
  g.ctx:cancel(e)
end

-- The traceback of an error in a group's task, from where it was raised
-- down to the task's function: the frames of G.run below it (the xpcall
-- and G.run itself) are the group's, not the program's, and join's
-- traceback of a task ends at the task's function too.
local function tasktraceback ()
  local tb = traceback(nil, 3)
  local cut, from = nil, 1
  while true do                        -- the last xpcall: G.run's own
    local i = find(tb, "\n\t[C]: in function 'xpcall'", from, true)
    if not i then break end
    cut, from = i, i + 1
  end
  return cut and sub(tb, 1, cut - 1) or tb
end

-- Whether 'e', which ends a task of a group, is the task's own cancel
-- (task:cancel: the string "canceled" or "canceled: <cause>", perhaps
-- raised again with a position): the task is canceled (its context,
-- canceled only by that while it runs) and the message says so.
local function iscancel (e)
  if type(e) ~= "string" or gochan.context():err() == nil then return false end
  return e == "canceled" or find(e, "^canceled: ") ~= nil or find(e, ": canceled$") ~= nil
      or find(e, ": canceled: ") ~= nil
end

-- The body of every task of a group: runs fn(...), and when it ends
-- (returns, fails, or is canceled) releases its slot, and on a failure
-- records the first one and cancels the group's context; a failure is then
-- raised again, so that the task fails as it would outside a group. A
-- field of the module: a task gets it by name.
function G.run (g, tokens, fn, ...)
  local tb
  local r = pack(xpcall(fn, function (e)
    tb = tasktraceback()
    return e
  end, ...))
  if tokens then tokens:try_recv() end
  g.running:add(-1)
  if not r[1] then
    if g.failed:cas(0, 1) then record(g, r[2], tb, iscancel(r[2])) end
    g.wg:done()
    -- the task fails with its own traceback, not this line's (ltask.c)
    getregistry()[RETHROWN] = { r[2], tb }
    error(r[2], 0)
  end
  g.wg:done()
  return unpack(r, 2, r.n)
end

-- Starts the task once the group has room ('slot' taken or not needed).
local function start (g, tokens, fn, ...)
  g.running:add(1)
  g.wg:add(1)
  local ok, t = pcall(gochan.go, G.run, g, tokens, fn, ...)
  if not ok then                       -- not started: undo, as if never asked
    if tokens then tokens:try_recv() end
    g.running:add(-1)
    g.wg:done()
    error(t, 3)
  end
  return t
end

local function checkfn (fn, fname)
  if type(fn) ~= "function" then
    local mt = getmetatable(fn)
    if not (type(mt) == "table" and mt.__call ~= nil) then
      argerror(1, fname, "function expected, got " .. (fn == nil and "no value" or typename(fn)), 1)
    end
  end
end

--- g:go(fn, ...) -> task | nil, err
-- With a limit, waits while 'limit' tasks of the group run; gives up when
-- the group's context is done.
function Group:go (fn, ...)
  checkgroup(self, "go")
  checkfn(fn, "go")
  local rec = take(self.cell)
  local tokens = rec.tokens
  put(self.cell, rec)
  if tokens then
    local done = self.ctx:done()
    local i = gochan.select { { "send", tokens, true }, { "recv", done } }
    if i ~= 1 then return nil, self.ctx:err() end
  end
  return start(self, tokens, fn, ...)
end

--- g:try_go(fn, ...) -> task | nil
function Group:try_go (fn, ...)
  checkgroup(self, "try_go")
  checkfn(fn, "try_go")
  local rec = take(self.cell)
  local tokens = rec.tokens
  put(self.cell, rec)
  if tokens and not tokens:try_send(true) then return nil end
  return start(self, tokens, fn, ...)
end

--- g:limit(n)
function Group:limit (n)
  checkgroup(self, "limit")
  if math.type(n) ~= "integer" then
    argerror(1, "limit", "integer expected, got " ..
      (math.type(n) == "float" and "float" or typename(n)))
  end
  if n == 0 then argerror(1, "limit", "limit must be positive or negative, got 0") end
  local rec = take(self.cell)
  local running = self.running:get()
  if running ~= 0 then
    put(self.cell, rec)
    error(("gochan.group: limit changed while %d tasks of the group are running")
      :format(running), 2)
  end
  if n < 0 then rec.limit, rec.tokens = false, false
  else rec.limit, rec.tokens = n, gochan.chan(n) end
  put(self.cell, rec)
end

-- The argument of wait: nil, a number of seconds >= 0 or a live context,
-- checked here so that an error points at wait's caller (the waitgroup's
-- wait would point at this file); the same words as the C calls.
local function checkwait (arg)
  if arg == nil then return end
  if type(arg) == "number" then
    if arg ~= arg then argerror(1, "wait", "number expected, got nan", 1) end
    if arg < 0 then argerror(1, "wait", "non-negative number expected, got number", 1) end
    return
  end
  checkctx(arg, 1, "wait", "number or gochan.context", 1)
end

--- g:wait([timeout | ctx]) -> true | false, err, traceback | nil, err
function Group:wait (arg)
  checkgroup(self, "wait")
  checkwait(arg)
  local ok, err = self.wg:wait(arg)
  if not ok then return nil, err or "timeout" end
  self.ctx:cancel()                    -- every task ended: the context is done
  if self.failed:get() == 0 then return true end
  local rec = take(self.first)
  put(self.first, rec)
  return false, rec.err, rec.tb
end

function Group:__tostring ()
  return ("gochan.group (%d running)"):format(self.running:get())
end

return G
