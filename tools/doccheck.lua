-- doccheck.lua: fails unless docs/api.md has a "### " entry for every name
-- the gochan module registers (module functions, and methods and fields of
-- every gochan metatable), and no entry names a function that is not there.
--
--   LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/?.so;;" \
--     lua5.4 tools/doccheck.lua [docs/api.md]
--
-- Module functions must appear in a heading as `gochan.NAME`; methods as
-- `VAR:NAME` and fields as `VAR.NAME`, VAR being the variable name the docs
-- use for that type (VARS below). A new metatable with methods fails the
-- check until it is given a VAR here and documented.

local gochan = require "gochan"

local VARS = {
  ["gochan.chan"] = "ch", ["gochan.task"] = "task",
  ["gochan.waitgroup"] = "wg", ["gochan.mutex"] = "mu",
  ["gochan.atomic"] = "a", ["gochan.ticker"] = "tk",
  ["gochan.context"] = "ctx",
  ["gochan.timer"] = "t",
  ["gochan.once"] = "o", ["gochan.rwmutex"] = "rw", ["gochan.cond"] = "c",
  ["gochan.semaphore"] = "sem",
  ["gochan.notifier"] = "nt",
  ["gochan.selector"] = "sel",
}
-- Fields reached through a function __index (tk.c), which pairs() cannot see.
local FIELDS = { ["gochan.ticker"] = { "c" }, ["gochan.timer"] = { "c" } }

-- Types whose __index reads data, not methods (a frozen table's fields).
local DATA = { ["gochan.frozen"] = true, ["gochan.frozen.nested"] = true }

local docfile = arg[1] or "docs/api.md"
local f = assert(io.open(docfile, "r"))
local headings = {}
for line in f:lines() do
  if line:find("^###%s") then headings[#headings + 1] = line end
end
f:close()

local function escape(s) return (s:gsub("%p", "%%%0")) end

-- Is 'name' (e.g. "gochan.chan", "ch:send") in some heading, not followed by
-- more of an identifier (so "ch:try_send" does not count for "ch:try")?
local function documented(name)
  local pat = escape(name) .. "%f[^%w_]"
  for _, h in ipairs(headings) do
    if h:find(pat) then return true end
  end
  return false
end

local missing, want = {}, {}
local function need(name)
  want[name] = true
  if not documented(name) then missing[#missing + 1] = name end
end

for k, v in pairs(gochan) do
  if type(k) == "string" and type(v) == "function" then need("gochan." .. k) end
end

-- The method table of a metatable: its __index table, or the first upvalue
-- of a C __index function that is a table (as the ticker's is).
local function methods(mt)
  local idx = rawget(mt, "__index")
  if type(idx) == "table" then return idx end
  if type(idx) == "function" then
    for i = 1, 255 do
      local name, up = debug.getupvalue(idx, i)
      if name == nil then break end
      if type(up) == "table" then return up end
    end
  end
  return nil
end

for tname, mt in pairs(debug.getregistry()) do
  if type(tname) == "string" and tname:find("^gochan%.") and type(mt) == "table"
     and not DATA[tname] then
    local m = methods(mt)
    if m then
      local var = VARS[tname]
      if not var then
        missing[#missing + 1] = tname .. " (no doc variable in tools/doccheck.lua)"
      else
        for k in pairs(m) do
          if type(k) == "string" then need(var .. ":" .. k) end
        end
        for _, field in ipairs(FIELDS[tname] or {}) do need(var .. "." .. field) end
      end
    end
  end
end

-- The other way round: a heading that names a gochan.X or VAR:X that the
-- module does not register is stale.
local stale = {}
local vars = {}
for _, var in pairs(VARS) do vars[var] = true end
for _, h in ipairs(headings) do
  local first = h:match("`([^`]+)`")
  local name = first and (first:match("^(gochan%.[%w_]+)")
    or first:match("^([%a_][%w_]*:[%w_]+)") or first:match("^([%a_][%w_]*%.[%w_]+)"))
  -- (an entry that says "(testing builds only)" may be absent from this build)
  if name and (name:find("^gochan%.") or vars[name:match("^[%a_][%w_]*")])
     and not want[name] and not h:find("(testing builds only)", 1, true) then
    stale[#stale + 1] = name
  end
end

table.sort(missing)
table.sort(stale)
local n = 0
for _ in pairs(want) do n = n + 1 end
if #missing > 0 or #stale > 0 then
  for _, name in ipairs(missing) do
    io.stderr:write(("doccheck: %s: no entry for %s\n"):format(docfile, name))
  end
  for _, name in ipairs(stale) do
    io.stderr:write(("doccheck: %s: entry for %s, which gochan does not register\n")
      :format(docfile, name))
  end
  os.exit(1)
end
print(("doccheck: %s documents all %d registered names"):format(docfile, n))
