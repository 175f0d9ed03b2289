rockspec_format = "3.0"
package = "gochan"
version = "scm-1"

-- Built from the working tree: `luarocks --lua-version=5.4 make
-- rockspec/gochan-scm-1.rockspec` from the repository root needs no network.
source = {
  url = "git+file://.",
}

description = {
  summary = "Go's concurrency model for Lua 5.4: channels, select, tasks on OS threads",
  detailed = [[
gochan brings Go's channels, select, WaitGroup, mutexes, atomics and timers
to Lua 5.4, with a C core on OS threads. Tasks (gochan.go) run in Lua states
of their own on a pool of worker threads.
]],
  labels = { "concurrency", "channels", "threads" },
  license = "MIT",
}

dependencies = {
  "lua >= 5.4, < 5.5",
}

build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    CMAKE_C_FLAGS = "$(CFLAGS)",
    LUA_INCDIR = "$(LUA_INCDIR)",
    LIBDIR = "$(LIBDIR)",
    LUADIR = "$(LUADIR)",
    GOCHAN_TESTS = "OFF",
  },
}

-- `luarocks test` after `luarocks make` runs the specs against the module
-- that make built (LuaRocks builds in build.luarocks/ and installs from
-- there), not against a build/ of ./dev that may be older. It runs the
-- busted on PATH (Debian's lua-busted, or `luarocks install busted`): the
-- "busted" test type would fetch the busted rock from a server even when
-- one is installed by the system, so this works offline.
test = {
  type = "command",
  command = "test -f build.luarocks/gochan/core.so || { echo 'luarocks test: "
    .. "build.luarocks/gochan/core.so is missing: run luarocks make first' >&2; "
    .. "exit 1; }; busted --cpath='build.luarocks/?.so'",
}
