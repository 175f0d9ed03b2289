-- luacheck configuration: `./dev lint`.
std = "lua54"
max_line_length = 100
codes = true

-- busted's globals (describe, it, assert, spy, ...) only in specs.
files["spec"] = { std = "+busted" }
files["bench"] = { max_line_length = false }

exclude_files = { "build/**", "build-*/**", "build.luarocks/**", "lua_modules/**" }
