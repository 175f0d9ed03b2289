-- gochan.group's argument errors name the call the program made and point
-- at its line: a context collected by hand (its __gc called) given to
-- gochan.group said "bad argument #1 to 'with_cancel'" at a line of
-- group.lua; g:wait(-1), g:wait("x") and g:wait(a collected context)
-- named 'wait' but pointed into group.lua, as did g:go(5) and g:try_go(5).
local gochan = require "gochan"
local helper = require "spec.helper"

local HERE = "9%-group%-error%-position_spec%.lua:%d+: "

-- The error fn raises, which must point at this file.
local function raised (fn)
  local ok, err = pcall(fn)
  assert.is_false(ok)
  return tostring(err)
end

local function escape (s) return (s:gsub("%p", "%%%0")) end

local function check (expected, fn)
  local err = raised(fn)
  assert.matches("^[^\n]*" .. HERE .. escape(expected) .. "$", err)
end

describe("gochan.group's argument errors", function()
  it("name 'group' and the caller's line for a context collected by hand", function()
    local ctx = helper.collected((gochan.with_cancel()))
    check("bad argument #1 to 'group' (object already collected)",
          function() gochan.group(ctx) end)
    check("bad argument #1 to 'group' (gochan.context expected, got number)",
          function() gochan.group(5) end)
    check("bad argument #1 to 'group' (gochan.context expected, got gochan.chan)",
          function() gochan.group(gochan.chan()) end)
  end)

  it("name 'wait' and the caller's line for a bad timeout or context", function()
    local g = gochan.group()
    local ctx = helper.collected((gochan.with_cancel()))
    check("bad argument #1 to 'wait' (non-negative number expected, got number)",
          function() g:wait(-1) end)
    check("bad argument #1 to 'wait' (number expected, got nan)",
          function() g:wait(0 / 0) end)
    check("bad argument #1 to 'wait' (number or gochan.context expected, got string)",
          function() g:wait("x") end)
    check("bad argument #1 to 'wait' (object already collected)",
          function() g:wait(ctx) end)
    -- and the group is as it was: a good wait still works
    assert.is_true(g:wait(1))
  end)

  it("name 'go' and 'try_go' and the caller's line for what is not a function", function()
    local g = gochan.group()
    check("bad argument #1 to 'go' (function expected, got number)",
          function() g:go(5) end)
    check("bad argument #1 to 'try_go' (function expected, got number)",
          function() g:try_go(5) end)
    assert.is_true(g:wait(1))
  end)
end)
