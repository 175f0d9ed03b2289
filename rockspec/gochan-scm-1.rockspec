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
}

dependencies = {
  "lua >= 5.4, < 5.5",
}

test_dependencies = {
  "busted",
}

build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    CMAKE_C_FLAGS = "$(CFLAGS)",
    LUA_INCDIR = "$(LUA_INCDIR)",
    LUA_LIBDIR = "$(LIBDIR)",
    LUA_DIR = "$(LUADIR)",
    GOCHAN_TESTS = "OFF",
  },
}

test = {
  type = "busted",
}
