-- nats_wire_spec.lua: the wire format of gochan.nats (docs/wire.md), checked
-- against tests/wire_check.py, a second implementation written from the
-- document alone: it reads and rewrites the bytes the C side makes, and
-- the C side reads the bytes it makes. No server needed.

local natsserver = require "spec.natsserver"

local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

local have_python = sh("command -v python3 2>/dev/null") ~= ""
if not natsserver.runnable("gochan.nats wire format",
                           not have_python and "python3 is not installed" or nil) then
  return
end

local gochan = require "gochan"
local nats = require "gochan.nats"

local function hex(s) return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end)) end
local function unhex(h) return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end)) end

local function py(cmd, ...)
  local args = table.concat({ ... }, " ")
  return sh(("python3 tests/wire_check.py %s %s"):format(cmd, args))
end

-- The value C decodes from 'bytes', or nil, reason.
local function cdecode(bytes)
  local kind, ch = nats._decode(bytes)
  if not kind then return nil, ch end
  return kind, (ch:recv(0))
end

describe("gochan.nats wire format", function()
  it("starts with the version and the kind", function()
    assert.equal("01 00 03 2a 00 00 00 00 00 00 00",
                 hex(nats._encode(42)):gsub("(%x%x)", "%1 "):sub(1, -2))
    assert.equal("0100" .. "04" .. "000000000000f83f", hex(nats._encode(1.5)))
    assert.equal("0100" .. "05" .. "03" .. "616263", hex(nats._encode("abc")))
  end)

  it("is read back and rewritten byte for byte by the second implementation", function()
    local t = { 1, 2.5, "\0\255", true, false, math.mininteger, math.maxinteger,
                -0.0, 1 / 0, -1 / 0, { deep = { deeper = {} } } }
    t.self = t
    t.x, t.y = t[11], t[11]
    local values = { t, "", ("x"):rep(300), 0, 1e300, { [1.5] = "f", [true] = false },
                     gochan.freeze({ a = { 1, 2 } }) }
    local hexes = {}
    for i, v in ipairs(values) do hexes[i] = hex(nats._encode(v)) end
    local out, ok = py("roundtrip", table.unpack(hexes))
    assert.equal(("OK\n"):rep(#values), out)
    assert.is_true(ok)
  end)

  it("means the same to the second implementation", function()
    local out = py("decode", hex(nats._encode({ "hi", 0.5, n = 7 }))):gsub("\n$", "")
    local v = out
    assert.matches('"kind": "value"', v)
    assert.matches('%[{"int": 1}, {"str": "6869"}%]', v)
    assert.matches('%[{"int": 2}, {"float": "0.5"}%]', v)
    assert.matches('%[{"str": "6e"}, {"int": 7}%]', v)
    local t = {}
    t.me = t
    out = py("decode", hex(nats._encode(t)))
    assert.equal('{"kind": "value", "value": {"pairs": [[{"str": "6d65"}, {"ref": 0}]], "table": 0}}\n', out)
  end)

  it("reads what the second implementation writes", function()
    local out = py("samples")
    local got = {}
    for name, h in out:gmatch("(%S+) (%x*)\n") do got[name] = unhex(h) end
    local kind, v = cdecode(got.table)
    assert.equal("value", kind)
    assert.equal("hi", v[1])
    assert.equal(v, v.self)
    assert.equal(0.5, v.f)
    assert.equal(math.mininteger, v.i)
    assert.equal("integer", math.type(v.i))
    assert.same({ true, false }, { v.yes, v.no })
    assert.equal("float", math.type(v.sub.x))
    assert.equal(v.sub, v.again)
    assert.same({ "value", "\0\255A" }, { cdecode(got.string) })
    assert.same({ "value", 42 }, { cdecode(got.int) })
    local _, z = cdecode(got.float)
    assert.equal("-0.0", tostring(z))
    assert.same({ "value", math.huge }, { cdecode(got.inf) })
    assert.same({ "value", nil }, { cdecode(got["nil"]) })
    assert.same({ "error", "boom" }, { cdecode(got.error) })
    assert.same({ "close", nil }, { cdecode(got.close) })
  end)

  it("refuses malformed bytes on both sides, with a reason", function()
    local bad = {
      { "", "message of 0 bytes (too short)" },
      { "\2\0\0", "wire format version 2 (this reads version 1)" },
      { "\1\9\0", "unknown message kind 9" },
      { "\1\0", "truncated value" },
      { "\1\0\3\1\2", "truncated number" },
      { "\1\0\5\10abc", "truncated string" },
      { "\1\0\6\1\0\2", "table key is nil" },
      { "\1\0\6\1\4\0\0\0\0\0\0\248\127\2", "table key is NaN" },
      { "\1\0\7\0", "reference to table 0, not seen yet" },
      { "\1\0\6\100\2\2", "table of more pairs than bytes left" },
      { "\1\0\99", "unknown value tag 99" },
      { "\1\0\0\0", "1 bytes after the value" },
      { "\1\0\8\3a.b", "a channel where none can be received" },
      { "\1\0\5\255\255\255\255\255\255\255\255\255\255\1", "truncated string" },
    }
    local hexes = {}
    for i, b in ipairs(bad) do
      assert.same({ nil, b[2] }, { cdecode(b[1]) })
      hexes[i] = b[1] == "" and "''" or hex(b[1])
    end
    hexes[#hexes] = nil                 -- (a channel: valid for Python)
    hexes[#hexes] = nil
    local out = py("decode", table.unpack(hexes))
    local n = 0
    for line in out:gmatch("[^\n]+") do
      n = n + 1
      assert.matches('^{"error": ', line)
    end
    assert.equal(#hexes, n)
  end)

  it("limits nesting to 1000 tables", function()
    local deep = "\1\0" .. ("\6\1\3\1\0\0\0\0\0\0\0"):rep(1001) .. "\0"
    assert.same({ nil, "tables nested deeper than 1000" }, { cdecode(deep) })
    local t = {}
    local cur = t
    for _ = 1, 1000 do cur[1] = {} cur = cur[1] end
    assert.has_error(function() nats._encode(t) end,
      "cannot send a table nested deeper than 1000 over NATS (at value" ..
      ("[1]"):rep(8) .. "..." .. ("[1]"):rep(8) .. ")")
  end)

  it("refuses local objects, with the path", function()
    assert.has_error(function() nats._encode({ a = { ["b c"] = print } }) end,
      'cannot send a function over NATS (at value.a["b c"])')
    assert.has_error(function() nats._encode({ gochan.waitgroup() }) end,
      "cannot send a gochan.waitgroup over NATS (at value[1])")
    assert.has_error(function() nats._encode(gochan.chan()) end,
      "cannot send a channel without a connection over NATS (at value)")
  end)
end)
