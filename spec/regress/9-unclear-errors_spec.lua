-- Errors that said too little or the wrong thing: a select op with a zero
-- byte, a select on a channel whose __gc was called by hand, a
-- coroutine.yield() in a task's body, and an error value that is not a
-- string reaching join.
local gochan = require "gochan"

local T = 5
local YIELD = "attempt to yield from outside a coroutine"
local LUA = os.getenv("GOCHAN_SPEC_LUA") or "lua5.4"

local function pack (...) return { n = select("#", ...), ... } end

local function q (s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- Runs Lua source 'src' in a subprocess with this state's module paths;
-- returns what it wrote to stdout and to stderr.
local function subprocess (src)
  local errfile = os.tmpname()
  local p = assert(io.popen(("LUA_PATH=%s LUA_CPATH=%s timeout 20 %s -e %s 2>%s"):format(
    q(package.path), q(package.cpath), LUA, q(src), q(errfile))))
  local out = p:read("a")
  p:close()
  local f = assert(io.open(errfile))
  local err = f:read("a")
  f:close()
  os.remove(errfile)
  return out, err
end

describe("gochan.select, given an op with a zero byte in it", function()
  it("quotes the whole op as %q does", function()
    local ch = gochan.chan(1)
    assert.has_error(function() gochan.select { { "recv\0", ch } } end,
      [[bad argument #1 to 'select' (case 1: "send" or "recv" expected, got "recv\0")]])
  end)

  it("quotes quotes, newlines and control bytes as %q does", function()
    local ch = gochan.chan(1)
    local op = "re\"cv\n\0" .. "1\1"
    assert.has_error(function() gochan.select { { "x", ch }, { op, ch } } end,
      "bad argument #1 to 'select' (case 1: \"send\" or \"recv\" expected, got \"x\")")
    assert.has_error(function() gochan.select { { op, ch } } end,
      "bad argument #1 to 'select' (case 1: \"send\" or \"recv\" expected, got "
      .. string.format("%q", op) .. ")")
  end)

  it("does not take a key 'default' with a zero byte after it for default", function()
    local ch = gochan.chan(1)
    assert.has_error(function() gochan.select { { "recv", ch }, ["default\0x"] = true } end,
      [[bad argument #1 to 'select' (unexpected field "default\0x")]])
  end)
end)

describe("gochan.select, given a channel whose __gc was called by hand", function()
  it("says the object was already collected, as the methods do", function()
    local ch = gochan.chan(1)
    getmetatable(ch).__gc(ch)
    assert.has_error(function() ch:recv(0) end,
      "calling 'recv' on bad self (object already collected)")
    assert.has_error(function() gochan.select { { "recv", ch }, default = true } end,
      "bad argument #1 to 'select' (case 1: object already collected)")
    assert.has_error(function() gochan.select { { "send", gochan.chan(1), 1 }, { "send", ch, 1 } } end,
      "bad argument #1 to 'select' (case 2: object already collected)")
  end)

  it("still names the type of a value that is not a channel", function()
    local wg = gochan.waitgroup()
    assert.has_error(function() gochan.select { { "recv", wg } } end,
      "bad argument #1 to 'select' (case 1: gochan.chan expected, got gochan.waitgroup)")
  end)
end)

describe("coroutine.yield() in a task's body", function()
  it("raises as in a plain Lua main thread, where pcall catches it", function()
    local res = pack(gochan.go(function()
      local ok, err = pcall(coroutine.yield, "x")
      return ok, err, "went on"
    end):join(T))
    assert.same({ n = 4, true, false, YIELD, "went on" }, res)
  end)

  it("fails the task at the yield when nothing catches it", function()
    local ok, err, tb = gochan.go(function()
      coroutine.yield()
      return "after the yield"
    end):join(T)
    assert.is_false(ok)
    assert.equal(YIELD, (err:gsub("\n.*", "")))
    assert.matches("in function 'coroutine.yield'", tb, 1, true)
  end)

  it("is not yieldable there, while a coroutine the task makes is", function()
    local res = pack(gochan.go(function()
      local co = coroutine.wrap(function(a)
        local b = coroutine.yield(a + 1, coroutine.isyieldable())
        return b * 2
      end)
      local x, y = co(1)
      return coroutine.isyieldable(), x, y, co(5)
    end):join(T))
    assert.same({ n = 5, true, false, 2, true, 10 }, res)
  end)

  it("does not disturb blocking calls, which still park the task", function()
    local ch = gochan.chan()
    local t = gochan.go(function(c) return c:recv(T), pcall(coroutine.yield) end, ch)
    assert.is_true(ch:send("v", T))
    assert.same({ n = 4, true, "v", false, YIELD }, pack(t:join(T)))
  end)
end)

describe("task:join() of a task that raised", function()
  it("returns a table error as itself, the traceback third", function()
    local ok, err, tb = gochan.go(function() error({ code = 42 }) end):join(T)
    assert.is_false(ok)
    assert.same({ code = 42 }, err)
    assert.matches("^stack traceback:\n", tb)
    assert.matches("in function 'error'", tb, 1, true)
  end)

  it("returns other values as themselves", function()
    local num = pack(gochan.go(error, 42):join(T))
    assert.same({ false, 42 }, { num[1], num[2] })
    assert.equal(math.type(42), math.type(num[2]))
    assert.matches("^stack traceback:", num[3])
    local res = pack(gochan.go(function() error() end):join(T))
    assert.same({ false, nil }, { res[1], res[2] })
    assert.equal("string", type(res[3]))
    local ch = gochan.chan()
    local _, e = gochan.go(function(c) error({ ch = c, list = { 1, 2 } }) end, ch):join(T)
    assert.is_true(rawequal(ch, e.ch))
    assert.same({ 1, 2 }, e.list)
  end)

  it("returns a string error as the message followed by the traceback, then the traceback", function()
    local ok, err, tb = gochan.go(error, "boom", 0):join(T)
    assert.is_false(ok)
    assert.equal("string", type(tb))
    assert.matches("^stack traceback:\n", tb)
    assert.equal("boom\n" .. tb, err)
  end)

  it("returns a value that cannot cross as a string that says so", function()
    local ok, err, tb = gochan.go(function() error(coroutine.create(print)) end):join(T)
    assert.is_false(ok)
    assert.equal("(error object is a thread value that cannot cross: "
                 .. "cannot transfer a thread (at error))\n" .. tb, err)
  end)

  it("gives each join its own copy of the error value", function()
    local t = gochan.go(function() error({ n = 1 }) end)
    local _, a = t:join(T)
    local _, b = t:join(T)
    assert.same({ n = 1 }, a)
    assert.are_not.equal(a, b)
  end)

  it("reports a value that is not a string on stderr by its __tostring or its type", function()
    local out, err = subprocess([[
      local gochan = require "gochan"
      local e = setmetatable({}, { __tostring = function() return "custom failure" end })
      local ok, v = gochan.go(function() error(e) end):join(5)
      print(ok, tostring(v))
      print(gochan.go(function() error({ code = 42 }) end):join(5) == false)
    ]])
    assert.equal("false\tcustom failure\ntrue\n", out)
    assert.matches("^gochan: task #1 failed: custom failure\nstack traceback:\n", err)
    assert.matches("\ngochan: task #2 failed: %(error object is a table value%)\nstack traceback:\n", err)
  end)
end)
