-- A function's _ENV crosses by identity: only the sender's global table
-- becomes the receiver's globals; a sandbox (any other table) is copied
-- like any table, with its metatable, whether the function is stripped
-- or not.
local gochan = require "gochan"

local T = 5

local function pack (...) return { n = select("#", ...), ... } end

-- fn(...) run as a task: what join returned, packed
local function run (fn, ...)
  return pack(gochan.go(fn, ...):join(T))
end

-- fn sent through a channel and received back in this state
local function roundtrip (fn)
  local ch = gochan.chan(1)
  assert(ch:send(fn, T))
  local back, ok = ch:recv(T)
  assert(ok, "nothing received")
  return back
end

-- What a sandboxed function sees: its own data and no escape.
local SRC = "return function() return secret, type(os), type(io), type(print) end"

local function sandboxed (strip)
  local env = { secret = "mine", type = type }
  local f = load(SRC, "=sandbox", "t", env)()
  if strip then f = load(string.dump(f, true), "=sandbox", "b", env) end
  return f
end

describe("a function with a sandbox as _ENV", function()
  describe("made by load(src, name, 't', env)", function()
    it("keeps its sandbox in a task", function()
      assert.same({ n = 5, true, "mine", "nil", "nil", "nil" }, run(sandboxed(false)))
    end)

    it("keeps its sandbox through a channel back to the same state", function()
      local f = roundtrip(sandboxed(false))
      assert.same({ n = 4, "mine", "nil", "nil", "nil" }, pack(f()))
    end)

    it("takes a copy of the sandbox, not the sender's table", function()
      local env = { n = 1 }
      local f = load("return function() n = n + 1; return n end", "=sandbox", "t", env)()
      local g = roundtrip(f)
      assert.equal(2, g())
      assert.equal(3, g())
      assert.equal(1, env.n)
      assert.same({ n = 2, true, 2 }, run(f))
    end)
  end)

  describe("stripped by string.dump(f, true)", function()
    it("behaves as the unstripped one in a task", function()
      assert.equal("(no name)", (debug.getupvalue(sandboxed(true), 1)))
      assert.same(run(sandboxed(false)), run(sandboxed(true)))
      assert.same({ n = 5, true, "mine", "nil", "nil", "nil" }, run(sandboxed(true)))
    end)

    it("behaves as the unstripped one through a channel", function()
      local f = roundtrip(sandboxed(true))
      assert.same({ n = 4, "mine", "nil", "nil", "nil" }, pack(f()))
    end)

    it("that uses the globals still sees the receiver's globals", function()
      -- load(): a chunk whose _ENV is the real globals (busted runs specs
      -- in an environment table of its own)
      local f = load("return function() return type(os), type(print), gochan_spec_g end")()
      f = load(string.dump(f, true), "=stripped", "b", load("return _G")())
      assert.equal("(no name)", (debug.getupvalue(f, 1)))
      rawset(load("return _G")(), "gochan_spec_g", "sender's")
      local res = run(f)
      rawset(load("return _G")(), "gochan_spec_g", nil)
      assert.same({ n = 4, true, "table", "function", nil }, res)
    end)
  end)

  describe("made by local _ENV in a closure", function()
    local function make ()
      local _ENV = { secret = "closure's", type = type }  -- luacheck: ignore 211
      return function() return secret, type(os), type(print) end  -- luacheck: ignore
    end

    it("keeps its own _ENV in a task", function()
      assert.same({ n = 4, true, "closure's", "nil", "nil" }, run(make()))
    end)

    it("keeps its own _ENV through a channel back to the same state", function()
      assert.same({ n = 3, "closure's", "nil", "nil" }, pack(roundtrip(make())()))
    end)

    it("shares one sandbox between two closures of one value", function()
      local function pair ()
        local _ENV = { n = 0 }  -- luacheck: ignore 211
        return function() n = n + 1 end, function() return n end  -- luacheck: ignore
      end
      local inc, get = pair()
      local res = run(function(p) p.inc(); p.inc(); return p.get() end,
                      { inc = inc, get = get })
      assert.same({ n = 2, true, 2 }, res)
    end)
  end)

  describe("whose sandbox has an __index metatable", function()
    it("keeps the sandbox and its metatable", function()
      local allowed = { greeting = "hello", type = type }
      local env = setmetatable({ own = "own" }, { __index = allowed })
      local f = load("return function() return own, greeting, type(os), type(io) end",
                     "=sandbox", "t", env)()
      assert.same({ n = 5, true, "own", "hello", "nil", "nil" }, run(f))
      assert.same({ n = 4, "own", "hello", "nil", "nil" }, pack(roundtrip(f)()))
      local s = load(string.dump(f, true), "=sandbox", "b", env)
      assert.same({ n = 5, true, "own", "hello", "nil", "nil" }, run(s))
    end)

    it("reaches the receiver's globals through an __index that is the globals", function()
      local G = load("return _G")()
      local env = setmetatable({ own = "own" }, { __index = G })
      local f = load("return function() return own, type(os), rawequal(getmetatable(_ENV).__index, _G) end",
                     "=sandbox", "t", env)()
      assert.same({ n = 4, true, "own", "table", true }, run(f))
    end)
  end)
end)

describe("a function whose _ENV is the globals", function()
  it("sees the receiver's globals in a task", function()
    local G = load("return _G")()
    local f = load("return function() return type(os), type(io), rawequal(_ENV, _G), gochan_spec_g end")()
    rawset(G, "gochan_spec_g", "sender's")
    local res = run(f)
    rawset(G, "gochan_spec_g", nil)
    assert.same({ n = 5, true, "table", "table", true, nil }, res)
  end)

  it("is the sender's globals through a channel back to the same state", function()
    local G = load("return _G")()
    local f = roundtrip(load("return function() return _ENV end")())
    assert.is_true(rawequal(G, f()))
  end)
end)
