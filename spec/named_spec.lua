-- Named channels (API.md "C API, second part": gochan.named): one channel
-- per name in the process, made on first use. Names are process-wide and
-- live until the process exits, so each spec uses names of its own.

local gochan = require "gochan"
local helper = require "spec.helper"

local T = 5

local LUA = os.getenv("GOCHAN_SPEC_LUA") or "lua5.4"
local FIXTURES = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "fixtures/"

local function q (s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

describe("gochan.named", function()
  it("makes an unbuffered channel on first use when no capacity is given", function()
    local ch = gochan.named("named_spec.new")
    assert.equal(0, ch:cap())
    assert.equal("userdata", type(ch))
  end)

  it("makes a channel of the given capacity on first use", function()
    assert.equal(3, gochan.named("named_spec.cap3", 3):cap())
  end)

  it("returns the same channel for the same name", function()
    local a = gochan.named("named_spec.same", 2)
    assert.is_true(rawequal(a, gochan.named("named_spec.same")))
    assert.is_true(a == gochan.named("named_spec.same", 2))
    assert.is_false(a == gochan.named("named_spec.other"))
    a:send("x")
    assert.equal(1, gochan.named("named_spec.same"):len())
    assert.equal("x", gochan.named("named_spec.same"):recv(T))
  end)

  it("returns the existing channel when asked again without a capacity", function()
    gochan.named("named_spec.existing", 4)
    assert.equal(4, gochan.named("named_spec.existing"):cap())
    assert.equal(4, gochan.named("named_spec.existing", nil):cap())
  end)

  it("raises when asked again with a different capacity", function()
    gochan.named("named_spec.mismatch", 2)
    assert.has_error(function() gochan.named("named_spec.mismatch", 3) end,
      "named channel 'named_spec.mismatch' has capacity 2")
    assert.has_error(function() gochan.named("named_spec.mismatch", 0) end,
      "named channel 'named_spec.mismatch' has capacity 2")
    gochan.named("named_spec.zero")
    assert.has_error(function() gochan.named("named_spec.zero", 1) end,
      "named channel 'named_spec.zero' has capacity 0")
  end)

  it("makes nothing when a call fails", function()
    assert.has_error(function() gochan.named("named_spec.neverbad", -1) end,
      "bad argument #2 to 'named' (non-negative integer expected, got number)")
    assert.equal(5, gochan.named("named_spec.neverbad", 5):cap())
  end)

  it("checks its arguments", function()
    assert.has_error(function() gochan.named() end,
      "bad argument #1 to 'named' (string expected, got no value)")
    assert.has_error(function() gochan.named({}) end,
      "bad argument #1 to 'named' (string expected, got table)")
    assert.has_error(function() gochan.named("named_spec.badcap", 1.5) end,
      "bad argument #2 to 'named' (non-negative integer expected, got number)")
    assert.has_error(function() gochan.named("named_spec.badcap", "x") end,
      "bad argument #2 to 'named' (non-negative integer expected, got string)")
    assert.has_error(function() gochan.named("named_spec.badcap", math.maxinteger) end,
      "bad argument #2 to 'named' (capacity too large)")
  end)

  it("refuses an empty name, a NUL byte and invalid UTF-8", function()
    assert.has_error(function() gochan.named("") end,
      "bad argument #1 to 'named' (empty channel name)")
    assert.has_error(function() gochan.named("a\0b") end,
      "bad argument #1 to 'named' (channel name contains a zero byte)")
    assert.has_error(function() gochan.named("bad\255") end,
      "bad argument #1 to 'named' (channel name is not valid UTF-8)")
    assert.has_error(function() gochan.named("\xC0\x80") end,
      "bad argument #1 to 'named' (channel name is not valid UTF-8)")
    assert.has_error(function() gochan.named("\xED\xA0\x80") end,
      "bad argument #1 to 'named' (channel name is not valid UTF-8)")
    assert.has_error(function() gochan.named("\xF4\x90\x80\x80") end,
      "bad argument #1 to 'named' (channel name is not valid UTF-8)")
  end)

  it("takes any valid UTF-8 name", function()
    local ch = gochan.named("named_spec.h\u{E9}llo \u{20AC} \u{1F600}", 1)
    assert.equal(1, ch:cap())
    assert.is_true(ch == gochan.named("named_spec.h\u{E9}llo \u{20AC} \u{1F600}"))
  end)

  it("keeps a name and its channel for good: values wait in it", function()
    do gochan.named("named_spec.keep", 2):send("kept") end
    collectgarbage()
    collectgarbage()
    assert.equal("kept", gochan.named("named_spec.keep"):recv(T))
  end)

  it("is the same channel in every task", function()
    local r = table.pack(gochan.go(function()
      local g = require "gochan"
      g.named("named_spec.tasks", 1):send("from a task")
      return g.named("named_spec.tasks") == g.named("named_spec.tasks")
    end):join(T))
    assert.same({ true, true, n = 2 }, r)
    assert.equal("from a task", gochan.named("named_spec.tasks", 1):recv(T))
  end)

  it("works in select", function()
    local ch = gochan.named("named_spec.select", 1)
    ch:send(7)
    local i, v, ok = gochan.select { { "recv", gochan.chan() },
                                     { "recv", gochan.named("named_spec.select") } }
    assert.same({ 2, 7, true }, { i, v, ok })
  end)

  for _, where in ipairs(helper.PLACES) do
    describe("from the " .. where, function()
      it("sends and receives through a name the other side looks up", function()
        local name = "named_spec.pingpong." .. where
        local peer = gochan.go(function(n)
          local g = require "gochan"
          local v = g.named(n):recv(5)
          g.named(n .. ".reply", 1):send(v * 2, 5)
        end, name)
        local r = helper.within(where, function(n)
          local g = require "gochan"
          assert(g.named(n):send(21, 5))
          return g.named(n .. ".reply", 1):recv(5)
        end, name)
        assert.equal(42, r[1])
        assert.is_true(peer:join(T))
      end)

      it("times out on an empty named channel", function()
        local r = helper.within(where, function(n)
          return require("gochan").named(n):recv(0.05)
        end, "named_spec.empty." .. where)
        assert.same({ n = 2 }, r)
      end)
    end)
  end

  describe("deadlock", function()
    -- A wait on a named channel may be fed from outside the tasks: it is
    -- never reported as a deadlock; the fixture waits until `timeout`
    -- ends it (status 124).
    local function run (case)
      local p = assert(io.popen(("LUA_PATH=%s LUA_CPATH=%s timeout 1.5 %s %s %s 2>&1"):format(
        q(package.path), q(package.cpath), LUA, q(FIXTURES .. "named.lua"), case)))
      local out = p:read("a")
      local _, _, code = p:close()
      return out, code
    end

    -- a process started from a ThreadSanitizer run crashes before it
    -- starts (as runtime_spec's fixtures do, which ./dev tsan leaves out)
    local under_tsan = (os.getenv("LD_PRELOAD") or ""):match("libtsan") ~= nil
    for _, case in ipairs { "main", "select", "task" } do
      local test = under_tsan and pending or it
      test("is not reported for a wait on a named channel (" .. case .. ")", function()
        local out, code = run(case)
        assert.equal(124, code, out)
        assert.equal("start\n", out)
      end)
    end
  end)
end)
