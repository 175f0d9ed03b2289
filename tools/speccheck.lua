-- tools/speccheck.lua: checks the specs for tests that cannot fail in one
-- known way: an `assert.has_error(fn)` (or `has_errors`, `error_matches`)
-- without the message it expects passes on any error at all, a wrong one
-- included. Every such call must name its message (or a pattern).
-- Usage: lua5.4 tools/speccheck.lua [files...] (default: every spec file
-- under spec/); prints each offending call and exits 1 if there is one.

local function files_under (dir)
  local list = {}
  local p = io.popen('find "' .. dir .. '" -name "*_spec.lua" -o -name "helper.lua" | sort')
  for f in p:lines() do list[#list + 1] = f end
  p:close()
  return list
end

-- The arguments of the call whose '(' is at 'open' in 's': the number of
-- top-level arguments, skipping strings, long strings, comments and nested
-- brackets.
local function count_args (s, open)
  local depth, i, n, any = 0, open, 1, false
  while i <= #s do
    local c = s:sub(i, i)
    if c == "-" and s:sub(i, i + 1) == "--" then
      local lvl = s:match("^%-%-%[(=*)%[", i)
      if lvl then i = select(2, s:find("]" .. lvl .. "]", i, true))
      else i = (s:find("\n", i, true) or #s) end
    elseif c == "[" and s:match("^%[=*%[", i) then
      local lvl = s:match("^%[(=*)%[", i)
      i = select(2, s:find("]" .. lvl .. "]", i, true)); any = true
    elseif c == '"' or c == "'" then
      local j = i + 1
      while true do
        local d = s:sub(j, j)
        if d == "\\" then j = j + 2
        elseif d == c or d == "" then break
        else j = j + 1 end
      end
      i = j; any = true
    elseif c == "(" or c == "{" or c == "[" then
      depth = depth + 1
    elseif c == ")" or c == "}" or c == "]" then
      depth = depth - 1
      if depth == 0 then return any and n or 0 end
    elseif c == "," and depth == 1 then
      n = n + 1
    elseif not c:match("%s") and depth >= 1 then
      any = true
    end
    i = i + 1
  end
  return n
end

local args = { ... }
if #args == 0 then args = files_under("spec") end
local bad = 0
for _, file in ipairs(args) do
  local f = assert(io.open(file, "r"))
  local s = f:read("a")
  f:close()
  for pos, name, open in s:gmatch("()assert%.([%w_]+)%s*()%(") do
    if name == "has_error" or name == "has_errors" or name == "error_matches" then
      if count_args(s, open) < 2 then
        local line = select(2, s:sub(1, pos):gsub("\n", "")) + 1
        print(("%s:%d: assert.%s without the message it expects"):format(file, line, name))
        bad = bad + 1
      end
    end
  end
end
if bad > 0 then os.exit(1) end
