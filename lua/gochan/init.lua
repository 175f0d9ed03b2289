-- gochan: Go's concurrency model for Lua 5.4. This is what `require "gochan"`
-- returns: the C core (gochan.core) plus the helpers written in Lua.
--
-- The core returns the same table every time it is opened in a state, and
-- the helpers are added to that table, so `require "gochan"` is the same
-- table after a reload (busted clears package.loaded between files).

local core = require "gochan.core"

local error, select, setmetatable, type, getmetatable =
      error, select, setmetatable, type, getmetatable
local unpack = table.unpack

local M = core

-- Raise a standard argument error at the caller's line (level 3: the
-- caller of the public function that calls this).
local function argerror(n, fname, msg)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), 3)
end

-- The type name luaL_typeerror would print (honours __name).
local function typename(v)
  local mt = getmetatable(v)
  if type(mt) == "table" and type(mt.__name) == "string" then
    return mt.__name
  end
  return type(v)
end

local function callable(f)
  if type(f) == "function" then return true end
  local mt = getmetatable(f)
  return type(mt) == "table" and mt.__call ~= nil
end

-- A closer is { fn, n, args... }: __close calls fn(args...) once, on a
-- normal exit or an error (Go's defer on a to-be-closed variable).
local closer_mt = {
  __name = "gochan.defer",
  __close = function(self)
    local fn = self.fn
    if fn == nil then return end       -- already run
    self.fn = nil
    fn(unpack(self, 1, self.n))
  end,
}

--- gochan.defer(fn, ...) -> closer
-- `local _ <close> = gochan.defer(fn, ...)` calls fn(...) when the scope ends.
function M.defer(...)
  local fn = ...
  if not callable(fn) then
    local got = select("#", ...) == 0 and "no value" or typename(fn)
    argerror(1, "defer", "function expected, got " .. got)
  end
  return setmetatable({ fn = fn, n = select("#", ...) - 1, select(2, ...) },
                      closer_mt)
end

--- gochan.group([ctx]) -> g, gctx (lua/gochan/group.lua: Go's errgroup)
M.group = require("gochan.group").new

return M
