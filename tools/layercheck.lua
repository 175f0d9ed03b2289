-- tools/layercheck.lua: the layers of the C sources, checked.
--
--   lua5.4 tools/layercheck.lua        (from the repository root; ./dev lint)
--
-- Dependencies point one way, as in Lua itself (lauxlib over lapi, never
-- the reverse):
--
--   top      src/lua/module.c: luaopen_gochan_core and the table of types
--   types    the Lua-visible types and their functions (lchan, lselect,
--            lsync, ltime, ltask)
--   helpers  what the types share: boxes and the cache (lbox), parking
--            (lpark), a task's state (taskstate), transfer (tencode,
--            tdecode, modindex, tformat), the C API over Lua (capi.c)
--   core     src/core and include/gochan.h: C11 and threads, nothing of Lua
--   sibling  src/nats: gochan.nats, its own module; of the rest it includes
--            only include/gochan.h and src/lua/lapi.h (what core.so lends)
--
-- A file may include headers of its own layer or of a lower one; the core
-- includes no Lua header at all. A source file in no layer fails the check
-- until it is given one here. Also: no file in src/ is over MAXLINES lines
-- unless one of its first ten lines says it is "one concept" (and why).

local MAXLINES = 600

local LAYER = { core = 1, helpers = 2, types = 3, top = 4, sibling = 5 }

-- src/lua files by layer (a header belongs where its .c does).
local LUAFILES = {
  helpers = { "lbox.c", "lbox.h", "lnames.c", "lpark.c", "lpark.h",
              "taskstate.c", "taskstate.h", "transfer.c", "transfer.h",
              "tencode.c", "tdecode.c", "tformat.h", "modindex.c",
              "modindex.h", "capi.c", "lapi.h" },
  types = { "lcancel.c", "lcontext.c", "lchan.c", "lnamed.c", "lselect.c",
            "lsync.c", "lxsync.c", "ltime.c", "ltask.c", "lnotify.c", "lfreeze.c",
            "linspect.c", "ltrace.c",
            "ltask.h", "ltypes.h" },
  top = { "module.c" },
}

local LUAHEADERS = { ["lua.h"] = true, ["lauxlib.h"] = true,
                     ["lualib.h"] = true, ["luaconf.h"] = true }

local function lines (path)
  local f = assert(io.open(path, "r"))
  local t = {}
  for l in f:lines() do t[#t + 1] = l end
  f:close()
  return t
end

local function ls (dir)
  local p = assert(io.popen(("ls -1 %q"):format(dir)))
  local t = {}
  for name in p:lines() do
    if name:match("%.[ch]$") then t[#t + 1] = name end
  end
  p:close()
  table.sort(t)
  return t
end

-- layer of every file, by its name as an include names it
local layerof, pathof = {}, {}
for _, name in ipairs(ls("src/core")) do
  layerof[name], pathof[name] = LAYER.core, "src/core/" .. name
end
layerof["gochan.h"], pathof["gochan.h"] = LAYER.core, "include/gochan.h"

local problems = {}
local function problem (fmt, ...) problems[#problems + 1] = fmt:format(...) end

local known = {}
for lname, files in pairs(LUAFILES) do
  for _, name in ipairs(files) do known[name] = LAYER[lname] end
end
for _, name in ipairs(ls("src/lua")) do
  if not known[name] then
    problem("src/lua/%s: in no layer (add it to LUAFILES in tools/layercheck.lua)", name)
  else
    layerof[name], pathof[name] = known[name], "src/lua/" .. name
  end
end

-- src/nats (gochan.nats, a module of its own): above everything, but it
-- reaches core.so only through lapi.h (and include/gochan.h)
for _, name in ipairs(ls("src/nats")) do
  layerof[name], pathof[name] = LAYER.sibling, "src/nats/" .. name
end

local NAMES = { "core", "helpers", "types", "top", "sibling" }
local nfiles = 0
for name, path in pairs(pathof) do
  nfiles = nfiles + 1
  local mine = layerof[name]
  local text = lines(path)
  for i, l in ipairs(text) do
    local inc = l:match('^%s*#%s*include%s*["<]([^">]+)[">]')
    if inc then
      local base = inc:match("([^/]+)$")
      if mine == LAYER.sibling and layerof[base] and layerof[base] < LAYER.sibling
         and base ~= "lapi.h" and base ~= "gochan.h" then
        problem("%s:%d: gochan.nats includes %s (only lapi.h and gochan.h reach core.so)",
                path, i, inc)
      elseif LUAHEADERS[base] and mine == LAYER.core then
        problem("%s:%d: the core includes Lua (%s)", path, i, inc)
      elseif layerof[base] and layerof[base] > mine then
        problem("%s:%d: includes %s, a file of a higher layer (%s over %s)",
                path, i, inc, NAMES[layerof[base]], NAMES[mine])
      end
    end
  end
  if path:match("^src/") and #text > MAXLINES then
    local said = false
    for i = 1, math.min(10, #text) do
      if text[i]:find("one concept", 1, true) then said = true end
    end
    if not said then
      problem("%s: %d lines (over %d) and its first lines do not say it is one concept",
              path, #text, MAXLINES)
    end
  end
end

if #problems > 0 then
  table.sort(problems)
  for _, p in ipairs(problems) do io.stderr:write("layercheck: ", p, "\n") end
  os.exit(1)
end
print(("layercheck: %d files, every include points down, none over %d lines unexplained")
      :format(nfiles, MAXLINES))
