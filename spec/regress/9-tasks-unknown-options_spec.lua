-- gochan.tasks{...} ignored an option it does not know, so a misspelt one
-- ({ tracebak = true }) went unnoticed; it raises, as gochan.spawn and
-- gochan.config do for theirs.
local gochan = require "gochan"
local helper = require "spec.helper"

describe("gochan.tasks", function()
  it("raises for an unknown option", function()
    assert.equal("bad argument #1 to 'tasks' (unknown option 'tracebak')",
                 helper.message(function() return gochan.tasks({ tracebak = true }) end))
    assert.equal([[bad argument #1 to 'tasks' (unknown option "traceback\0")]],
                 helper.message(function() return gochan.tasks({ ["traceback\0"] = true }) end))
    assert.equal("bad argument #1 to 'tasks' (unknown option (a number key))",
                 helper.message(function() return gochan.tasks({ true }) end))
  end)

  it("still takes its own", function()
    assert.equal("table", type(gochan.tasks({ traceback = true })))
    assert.equal("table", type(gochan.tasks({})))
    assert.equal("table", type(gochan.tasks()))
  end)
end)
