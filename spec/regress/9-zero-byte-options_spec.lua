-- Option names and values are whole Lua strings: a zero byte in one is
-- not its end. gochan.spawn and gochan.config took "name\0x" for "name",
-- a notifier took "recv\0" for "recv", gochan.trace_start opened the
-- file named by the path's first part, and gochan.freeze named a key
-- "a\0b" as t["a"]. The name is quoted whole, as string.format's %q does,
-- as gochan.select does (9-unclear-errors_spec.lua).
local gochan = require "gochan"
local helper = require "spec.helper"

describe("an option name with a zero byte", function()
  it("is an unknown option of gochan.spawn", function()
    assert.equal([[bad argument #1 to 'spawn' (unknown option "name\0x")]],
                 helper.message(function() return gochan.spawn({ ["name\0x"] = "a" }, print) end))
  end)

  it("is an unknown setting of gochan.config", function()
    assert.equal([[bad argument #1 to 'config' (unknown setting "workers\0x")]],
                 helper.message(function() return gochan.config({ ["workers\0x"] = 1 }) end))
  end)
end)

describe("an option value with a zero byte", function()
  it("is not a sigquit setting", function()
    assert.equal([[bad argument #1 to 'config' ('sigquit' must be "dump", "default" or false)]],
                 helper.message(function() return gochan.config({ sigquit = "default\0x" }) end))
  end)

  it("is not a notifier's direction", function()
    local nt = gochan.notifier()
    local ch = gochan.chan(1)
    assert.equal([[bad argument #2 to 'watch' (invalid option "recv\0")]],
                 helper.message(function() return nt:watch(ch, "recv\0") end))
    assert.equal([[bad argument #2 to 'watch' (invalid option 'sideways')]],
                 helper.message(function() return nt:watch(ch, "sideways") end))
    nt:close()
  end)

  it("is not a trace's path", function()
    local path = os.tmpname()
    local ok, err = pcall(function() return gochan.trace_start(path .. "\0.x") end)
    if ok then pcall(gochan.trace_stop) end
    os.remove(path)
    assert.same({ false, "bad argument #1 to 'trace_start' (path contains a zero byte)" },
                { ok, (tostring(err):gsub("^[^:]*:%d+: ", "")) })
  end)
end)

describe("gochan.freeze, refusing a value under a key with a zero byte", function()
  it("names the whole key, quoted as %q does", function()
    assert.equal([[cannot freeze a function (at t["a\0b"])]],
                 helper.message(function() return gochan.freeze({ ["a\0b"] = print }) end))
    assert.equal([[cannot freeze a function (at t.x["q\"\0"])]],
                 helper.message(function() return gochan.freeze({ x = { ["q\"\0"] = print } }) end))
  end)
end)
