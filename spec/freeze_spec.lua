-- gochan.freeze / gochan.thaw: a table copied once into an immutable,
-- shared form that crosses by reference and is read with ordinary
-- indexing, #, pairs and ipairs (API.md, "Sharing big read-only data").
local gochan = require "gochan"

local T = 10     -- the timeout of every blocking call here

local function sample ()
  local shared = { x = 1 }
  local t = { 10, 2.5, "three", true,
              name = "pizza", long = ("x"):rep(100),
              a = shared, b = shared,
              nested = { { { deep = "here" } } },
              [1.5] = "float key", [false] = "false key" }
  t.self = t
  t[shared] = "table key"
  return t
end

-- The live frozen graphs now, after full collections (a testing build
-- counts them; elsewhere nil).
local function live_frozen ()
  if not gochan._live then return nil end
  collectgarbage()
  collectgarbage()
  local _, by = gochan._live()
  return by.frozen
end

describe("gochan.freeze", function()
  it("reads as the table it was made from", function()
    local f = gochan.freeze(sample())
    assert.equal("userdata", type(f))
    assert.matches("^gochan%.frozen: ", tostring(f))
    assert.equal(4, #f)
    assert.equal(10, f[1])
    assert.equal(math.type(2.5), math.type(f[2]))
    assert.equal("float", math.type(f[2]))
    assert.equal("integer", math.type(f[1]))
    assert.equal("three", f[3])
    assert.is_true(f[4])
    assert.is_nil(f[5])
    assert.equal("pizza", f.name)
    assert.equal(("x"):rep(100), f.long)
    assert.equal("float key", f[1.5])
    assert.equal("false key", f[false])
    assert.equal(10, f[1.0])              -- 1.0 is key 1, as in Lua
    assert.equal("here", f.nested[1][1].deep)
    assert.is_nil(f.missing)
    assert.is_nil(f[{}])
  end)

  it("keeps shared tables shared and cycles as cycles", function()
    local f = gochan.freeze(sample())
    assert.equal(f, f.self)
    assert.is_true(rawequal(f, f.self))
    assert.equal(f.a, f.b)
    assert.equal("table key", f[f.a])
    assert.equal(1, f.a.x)
  end)

  it("iterates with pairs and ipairs", function()
    local src = { 1, 2, 3, x = "a", y = "b", [10] = "ten" }
    local f = gochan.freeze(src)
    local seen, n = {}, 0
    for k, v in pairs(f) do seen[k] = v; n = n + 1 end
    assert.equal(6, n)
    for k, v in pairs(src) do assert.equal(v, seen[k]) end
    local arr = {}
    for i, v in ipairs(f) do arr[i] = v end
    assert.same({ 1, 2, 3 }, arr)
    assert.equal(3, #f)
    n = 0
    for _ in pairs(gochan.freeze({})) do n = n + 1 end
    assert.equal(0, n)
    assert.equal(0, #gochan.freeze({}))
    assert.has_error(function() next(f, "nope") end,
                     "bad argument #1 to 'next' (table expected, got gochan.frozen)")
  end)

  it("refuses every write", function()
    local f = gochan.freeze(sample())
    assert.has_error(function() f.name = "x" end, "attempt to modify a frozen table")
    assert.has_error(function() f.nested[1] = 1 end, "attempt to modify a frozen table")
    assert.has_error(function() f[100] = 1 end, "attempt to modify a frozen table")
    assert.has_error(function() rawset(f, "x", 1) end,
                     "bad argument #1 to 'rawset' (table expected, got gochan.frozen)")
    assert.equal("pizza", f.name)
    assert.is_nil(f[100])
  end)

  it("refuses what cannot be frozen, naming the path", function()
    assert.has_error(function() gochan.freeze({ f = print }) end,
                     "cannot freeze a function (at t.f)")
    assert.has_error(function() gochan.freeze({ a = { b = { coroutine.create(print) } } }) end,
                     "cannot freeze a coroutine (at t.a.b[1])")
    assert.has_error(function() gochan.freeze({ ["a b"] = { setmetatable({}, {}) } }) end,
                     'cannot freeze a table with a metatable (at t["a b"][1])')
    assert.has_error(function() gochan.freeze({ x = io.stdout }) end,
                     "cannot freeze a userdata (at t.x)")
    assert.has_error(function() gochan.freeze({ [print] = 1 }) end,
                     "cannot freeze a function as a key (at t[?])")
    assert.has_error(function() gochan.freeze(setmetatable({}, {})) end,
                     "bad argument #1 to 'freeze' (cannot freeze a table with a metatable)")
    assert.has_error(function() gochan.freeze("x") end,
                     "bad argument #1 to 'freeze' (table expected, got string)")
    local deep = {}
    local t = deep
    for _ = 1, 1001 do t.n = {}; t = t.n end
    assert.has_error(function() gochan.freeze(deep) end,
                     "cannot freeze a table nested deeper than 1000 levels (at t.n.n.n.n.n.n.n.n....n.n.n.n)")
  end)

  it("keeps gochan objects by reference", function()
    local ch = gochan.chan(1)
    local inner = gochan.freeze({ v = 42 })
    local f = gochan.freeze({ ch = ch, inner = inner, sub = inner })
    assert.is_true(rawequal(ch, f.ch))
    assert.is_true(rawequal(inner, f.inner))
    f.ch:send("through", T)
    assert.equal("through", ch:recv(T))
    assert.equal(42, f.inner.v)
  end)

  it("thaws into an ordinary deep copy", function()
    local f = gochan.freeze(sample())
    local t = gochan.thaw(f)
    assert.equal("table", type(t))
    assert.equal(t, t.self)
    assert.equal(t.a, t.b)
    assert.equal("table", type(t.a))
    assert.equal("table key", t[t.a])
    assert.equal("here", t.nested[1][1].deep)
    assert.equal(4, #t)
    t.name = "changed"                     -- a copy: the frozen one stays
    assert.equal("pizza", f.name)
    local part = gochan.thaw(f.nested)
    assert.equal("here", part[1][1].deep)
    assert.has_error(function() gochan.thaw({}) end,
                     "bad argument #1 to 'thaw' (gochan.frozen expected, got table)")
  end)

  it("crosses to tasks by reference, equal in every state", function()
    local f = gochan.freeze(sample())
    local out = gochan.chan(4)
    local t = gochan.go(function(x, part, o)
      o:send(x.name .. " " .. #x .. " " .. x.nested[1][1].deep, 10)
      o:send(x, 10)                          -- the same object back
      o:send(part == x.a, 10)                -- a nested one: equal there too
      o:send({ in_table = x.nested }, 10)
    end, f, f.a, out)
    assert.equal("pizza 4 here", out:recv(T))
    assert.is_true(rawequal(f, out:recv(T)))
    assert.is_true(out:recv(T))
    assert.equal(f.nested, out:recv(T).in_table)
    t:join(T)
  end)

  it("is read by many tasks at once", function()
    local n = 2000
    local src = {}
    for i = 1, n do src[i] = { id = i, name = "item" .. i } end
    local f = gochan.freeze(src)
    local wg = gochan.waitgroup()
    local sums = gochan.chan(8)
    for _ = 1, 8 do
      wg:go(function(x, c)
        local s = 0
        for i = 1, #x do
          local r = x[i]
          if r.name == "item" .. r.id then s = s + r.id end
        end
        c:send(s, 10)
      end, f, sums)
    end
    for _ = 1, 8 do assert.equal(n * (n + 1) // 2, sums:recv(T)) end
    assert.is_true(wg:wait(T))
  end)

  it("is freed once its last reference dies in every state", function()
    local before = live_frozen()
    if not before then return end            -- not a testing build
    do
      local f = gochan.freeze({ a = { b = 1 }, s = ("y"):rep(100) })
      local _, _ = f.a, f.s
      local c = gochan.chan(1)
      gochan.go(function(x, o) o:send(x.a.b, 10) end, f, c)
      assert.equal(1, c:recv(T))
      assert.equal(before + 1, live_frozen())
    end
    local deadline = gochan.now() + 5
    while live_frozen() ~= before and gochan.now() < deadline do
      gochan.sleep(0.01)
    end
    assert.equal(before, live_frozen())
  end)

  it("reads the same after many reads of a hot table, and demotes", function()
    -- a small table read often gets a plain copy behind its metatable; a
    -- state keeps at most 32 of them: the 40 here make it demote some
    local src = {}
    for i = 1, 40 do src[i] = { id = i, name = "n" .. i, [1] = "first" } end
    local root = gochan.freeze({ k = 1, list = src })
    local f = root.list
    for _ = 1, 3 do
      for i = 1, 40 do
        local r = f[i]
        for _ = 1, 10 do
          assert(r.id == i and r.name == "n" .. i and r[1] == "first" and r.none == nil)
        end
        assert.equal(1, #r)
        local n = 0
        for _ in pairs(r) do n = n + 1 end
        assert.equal(3, n)
        assert.has_error(function() r.id = 0 end, "attempt to modify a frozen table")
        assert.equal(r, f[i])
      end
      for _ = 1, 10 do assert(root.k == 1) end
    end
    assert.equal("gochan.frozen", tostring(f[1]):match("^[%w.]+"))
    assert.has_error(function() root.k = 2 end, "attempt to modify a frozen table")
  end)

  it("leaves the Lua heap flat when its nested tables are read often", function()
    local src = {}
    for i = 1, 1000 do src[i] = { i } end
    local f = gochan.freeze(src)
    local function pass () for i = 1, #f do local _ = f[i][1] end end
    pass()
    collectgarbage()
    collectgarbage()
    local kb = collectgarbage("count")
    for _ = 1, 20 do pass() end
    collectgarbage()
    collectgarbage()
    assert.is_true(collectgarbage("count") - kb < 64)
  end)
end)
