-- A C host that closes its Lua state and opens a new one (restarting the
-- runtime) while one of its own threads is blocked in gochan_send or
-- gochan_recv raced on the scheduler's main-thread fields and the park
-- hook (ThreadSanitizer reported them). The host is tests/embed_restart.c,
-- built beside the module; this runs it from the build the specs use (so
-- `./dev tsan` runs it under ThreadSanitizer): the value must arrive
-- exactly once in every round, and the process must end cleanly.

local LUA_CORE = package.searchpath("gochan.core", package.cpath)

describe("a C host restarting the runtime", function()
  it("keeps a blocked host thread's value exactly once", function()
    local builddir = LUA_CORE and LUA_CORE:match("^(.*)/gochan/[^/]+$")
    local host = builddir and builddir .. "/embed_restart"
    local f = host and io.open(host, "rb")
    if not f then
      pending("no embed_restart beside " .. tostring(LUA_CORE) .. " (not a CMake build dir)")
      return
    end
    f:close()
    local p = assert(io.popen(("timeout 60 %q 2>&1"):format(host)))
    local out = p:read("a")
    local _, how, code = p:close()
    if how == "signal" then code = 128 + code end
    assert.are.equal(0, code, out)
  end)
end)
