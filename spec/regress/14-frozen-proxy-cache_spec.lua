-- A read counted for a frozen table took its cache slot's key without
-- dropping the proxy cached there for another table, so the next read of
-- the first table's proxy from its parent returned the other table.
local gochan = require "gochan"

describe("frozen proxy cache (regression)", function()
  it("never answers a nested read with another table's proxy", function()
    local src = {}
    for i = 1, 2000 do src[i] = { id = i } end
    local f = gochan.freeze(src)
    local held = {}
    -- fill the cache in one order, count a read of each in the other: a
    -- slot's last key is then another table than its cached proxy's
    for i = 1, #f do held[i] = f[i] end
    for i = #f, 1, -1 do local _ = held[i].id end
    local wrong = 0
    for i = 1, #f do
      if f[i].id ~= i then wrong = wrong + 1 end
    end
    assert.equal(0, wrong)
  end)
end)
