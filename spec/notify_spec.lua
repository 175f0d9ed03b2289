-- Notifiers (API.md "C API, second part": gochan.notifier). Whether the fd
-- is readable is asked of luv (uv.new_poll, one non-blocking loop turn),
-- as a host's loop would. Nothing here blocks; a notifier made in the
-- main state is also used from a task (it crosses by reference).

local gochan = require "gochan"
local helper = require "spec.helper"
local uv = require "luv"

local T = 5

-- Is 'fd' readable right now? (one loop turn that does not wait)
local function readable (fd)
  local p = assert(uv.new_poll(fd))
  local r = false
  p:start("r", function () r = true end)
  uv.run("nowait")
  p:stop()
  p:close()
  uv.run("nowait")           -- let the close complete
  return r
end

-- Wait (polling, up to T s) until 'fd' is readable.
local function becomes_readable (fd)
  local deadline = gochan.now() + T
  repeat
    if readable(fd) then return true end
    gochan.sleep(0.001)
  until gochan.now() > deadline
  return false
end

-- The open fds of this process (/proc/self/fd, read in-process).
local function nfds ()
  local req = assert(uv.fs_scandir("/proc/self/fd"))
  local n = 0
  while uv.fs_scandir_next(req) do n = n + 1 end
  return n
end

describe("gochan.notifier", function()
  it("makes a notifier whose fd is not readable", function()
    local nt = gochan.notifier()
    assert.is_true(math.type(nt:fd()) == "integer" and nt:fd() >= 0)
    assert.is_false(readable(nt:fd()))
    assert.matches("^gochan%.notifier %(fd %d+, 0 watched%)$", tostring(nt))
    nt:close()
  end)

  it("watches its arguments for a value to receive", function()
    local a, b = gochan.chan(1), gochan.chan(1)
    local nt = gochan.notifier(a, b)
    assert.matches("2 watched", tostring(nt))
    assert.is_false(readable(nt:fd()))
    b:send("x")
    assert.is_true(readable(nt:fd()))
    nt:clear()
    assert.is_false(readable(nt:fd()))
    assert.same({ "x", true }, { b:recv(0) })
    assert.is_false(readable(nt:fd()))     -- room: not watched
    nt:close()
  end)

  it("rejects an argument that is not a channel, making nothing", function()
    local before = nfds()
    assert.has_error(function() gochan.notifier(gochan.chan(), 5) end,
      "bad argument #2 to 'notifier' (gochan.chan expected, got number)")
    assert.equal(before, nfds())
  end)

  describe("watch()", function()
    it("signals a channel that is ready already", function()
      local ch = gochan.chan(1)
      ch:send(1)
      local nt = gochan.notifier()
      assert.equal(nt, nt:watch(ch))
      assert.is_true(readable(nt:fd()))
      nt:close()
    end)

    it("watches for room to send with 'send'", function()
      local ch = gochan.chan(1)
      ch:send(1)
      local nt = gochan.notifier():watch(ch, "send")
      assert.is_false(readable(nt:fd()))
      ch:recv(0)
      assert.is_true(readable(nt:fd()))
      nt:close()
    end)

    it("adds the direction when a channel is watched again", function()
      local ch = gochan.chan(1)
      ch:send(1)
      local nt = gochan.notifier():watch(ch, "send")
      assert.is_false(readable(nt:fd()))
      nt:watch(ch, "recv")
      assert.is_true(readable(nt:fd()))
      assert.matches("1 watched", tostring(nt))
      nt:clear()
      ch:recv(0)
      assert.is_true(readable(nt:fd()))    -- room, still watched
      nt:close()
    end)

    it("signals a close and a task blocked sending", function()
      local ch = gochan.chan()
      local nt = gochan.notifier(ch)
      local t = gochan.go(function(c) return c:send("hi", 10) end, ch)
      assert.is_true(becomes_readable(nt:fd()))
      nt:clear()
      assert.same({ "hi", true }, { ch:recv(0) })
      assert.same({ true, true }, { t:join(T) })
      assert.is_false(readable(nt:fd()))
      ch:close()
      assert.is_true(readable(nt:fd()))
      nt:close()
    end)

    it("never signals for a channel it does not watch", function()
      local watched, other = gochan.chan(1), gochan.chan(1)
      local nt = gochan.notifier(watched)
      other:send(1)
      other:recv(0)
      other:close()
      assert.is_false(readable(nt:fd()))
      nt:close()
    end)

    it("rejects a bad direction and a bad channel", function()
      local nt = gochan.notifier()
      assert.has_error(function() nt:watch(gochan.chan(), "both") end,
        "bad argument #2 to 'watch' (invalid option 'both')")
      assert.has_error(function() nt:watch("x") end,
        "bad argument #1 to 'watch' (gochan.chan expected, got string)")
      assert.matches("0 watched", tostring(nt))
      nt:close()
    end)
  end)

  describe("unwatch()", function()
    it("stops the signals of a channel and says whether it was watched", function()
      local ch = gochan.chan(1)
      local nt = gochan.notifier(ch)
      assert.is_true(nt:unwatch(ch))
      ch:send(1)
      assert.is_false(readable(nt:fd()))
      assert.is_false(nt:unwatch(ch))
      nt:close()
    end)
  end)

  describe("clear()", function()
    it("leaves the fd unreadable until the next change", function()
      local ch = gochan.chan(4)
      local nt = gochan.notifier(ch)
      ch:send(1)
      ch:send(2)
      nt:clear()
      assert.is_false(readable(nt:fd()))
      ch:send(3)
      assert.is_true(readable(nt:fd()))
      nt:clear()
      nt:clear()
      assert.is_false(readable(nt:fd()))
      nt:close()
    end)

    it("raises when the fd was closed behind its back (EBADF)", function()
      local nt = gochan.notifier()
      assert(uv.fs_close(nt:fd()))         -- a careless host
      assert.has_error(function() nt:clear() end,
        "notifier fd: Bad file descriptor")
      nt:close()
    end)
  end)

  describe("close()", function()
    it("releases the fd and the channels, and later calls raise", function()
      local before = nfds()
      local ch = gochan.chan(1)
      local nt = gochan.notifier(ch)
      local per = nfds() - before          -- 1 (eventfd) or 2 (a pipe)
      nt:close()
      assert.is_true(per == 1 or per == 2)
      assert.equal(before, nfds())
      assert.equal("gochan.notifier (closed)", tostring(nt))
      for _, m in ipairs({ "fd", "clear", "close" }) do
        assert.has_error(function() nt[m](nt) end,
          "attempt to use a closed notifier")
      end
      assert.has_error(function() nt:watch(ch) end,
        "attempt to use a closed notifier")
      assert.has_error(function() nt:unwatch(ch) end,
        "attempt to use a closed notifier")
    end)

    it("leaks no fd: collected and to-be-closed notifiers give theirs back", function()
      local before = nfds()
      for _ = 1, 100 do
        local ch = gochan.chan(1)
        gochan.notifier(ch):watch(ch, "send")
        do local nt <close> = gochan.notifier(ch); ch:send(1); assert(nt:fd() >= 0) end
      end
      collectgarbage()
      collectgarbage()
      assert.equal(before, nfds())
    end)
  end)

  it("works from a task (a notifier crosses by reference)", function()
    local ch = gochan.chan(1)
    local nt = gochan.notifier()
    local r = helper.within("task", function(n, c)
      n:watch(c)
      c:send(1)
      return n:fd()
    end, nt, ch)
    assert.equal(nt:fd(), r[1])
    assert.is_true(readable(nt:fd()))
    nt:close()
  end)
end)
