-- A task's base library is bound name by name on first read. Before, the
-- first read of any base name opened the whole library into the task's
-- globals, overwriting a global the task had set itself under a base
-- name (and cost ~2 KB and ~35,000 instructions: the CANCEL benchmark's
-- tasks spent most of their time there).
local gochan = require "gochan"

local T = 5

local function pack (...) return { n = select("#", ...), ... } end

-- A function whose _ENV is the global table (a spec's own functions see
-- busted's environment, which reaches a task as a view of its globals)
local function global (src) return assert(load(src, "=task", "t")) end

describe("a task's base functions", function()
  it("leave a global the task set under a base name as it set it", function()
    local t = gochan.go(global [[
      assert = function () return "mine" end
      local _ = print                               -- another base name
      return assert()
    ]])
    assert.same({ n = 2, true, "mine" }, pack(t:join(T)))
  end)

  it("are bound one at a time, each on its first read", function()
    local t = gochan.go(global [[
      local before = rawget(_G, "assert")
      local _ = assert
      return before == nil, rawget(_G, "assert") == assert,
             rawget(_G, "pairs") == nil, rawget(_G, "print") == nil
    ]])
    assert.same({ n = 5, true, true, true, true, true }, pack(t:join(T)))
  end)

  it("are reached through require '_G', with _G and _VERSION", function()
    local t = gochan.go(global [[
      local g = require "_G"
      return g == _G, g.assert == assert, type(g.pairs), g._VERSION,
             g._G == g
    ]])
    assert.same({ n = 6, true, true, true, "function", _VERSION, true },
                pack(t:join(T)))
  end)

  it("are named in a traceback as in a plain state", function()
    local t = gochan.go(global [[ error({}) ]])
    local _, _, tb = t:join(T)
    assert.matches("in function 'error'", tb, 1, true)
  end)

  it("work as the standard ones do", function()
    local t = gochan.go(global [[
      local ok, err = pcall(error, "x", 0)
      return ok, err, select("#", 1, 2), tostring(12), type(next),
             tonumber("0x10"), rawlen { 1, 2 }, _VERSION
    ]])
    assert.same({ n = 9, true, false, "x", 2, "12", "function", 16, 2, _VERSION },
                pack(t:join(T)))
  end)
end)
