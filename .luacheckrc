-- luacheck configuration: `./dev lint`.
std = "lua54"
max_line_length = 100
codes = true

-- Passing a channel into a task under its own name is the idiom
-- (gochan.go(function(ch) ... end, ch)), so shadowing an upvalue is not a
-- smell here.
ignore = { "431", "432" }

exclude_files = { "build/**", "build-*/**", "build.luarocks/**", "lua_modules/**" }

-- Specs: busted's globals; sentence-long test names and expected messages.
-- task_spec marks the string library to show each task gets its own.
files["spec"] = {
  std = "+busted",
  max_line_length = 120,
  globals = { string = { fields = { gochan_spec_mark = { read_only = false } } } },
}
files["bench"] = { max_line_length = false }
