-- W7 shared read-only data: a table of N records ({id, name, tags = {..},
-- pos = {x, y}}) frozen once (gochan.freeze) and sent to R = 100 tasks that
-- each read all of it and stay alive (blocked) until every reader is done.
-- Usage: lua5.4 bench/lua/w7.lua [N=100000]; prints
--   W7 ms <wall ms: freeze + start the readers + all of them read it all>
--   mem_ratio <RSS the R readers added / the Lua heap of one plain copy>
--   read_x <a field read of a frozen record / of a plain one, in a loop>
--   pass_x <one frozen pass over all records / one plain pass>
--   added_mb, plain_mb, freeze_ms, plain_ns, frozen_ns (per record of a pass)
local B = dofile(((arg and arg[0] or ""):match("^(.*)/") or ".") .. "/common.lua")
local gochan = B.gochan
local N = B.size(100000)
local R = 100

local function rss_kb ()
  local f = io.open("/proc/self/status", "r")
  if not f then return 0 end
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)")) or 0
end

local function full_gc () collectgarbage(); collectgarbage() end

-- One pass over all records, as every reader does: every field read once.
local function pass (t)
  local s = 0
  for i = 1, #t do
    local r = t[i]
    s = s + r.id + #r.name + #r.tags + r.pos.x
  end
  return s
end

B.warmup()
full_gc()
local kb0 = collectgarbage("count")
local src = {}
for i = 1, N do
  src[i] = { id = i, name = "record " .. i, tags = { "red", "green" },
             pos = { x = i * 0.5, y = i } }
end
full_gc()
local plain_kb = collectgarbage("count") - kb0

local stop = B.timer()
local f = gochan.freeze(src)
local freeze_s = stop()

-- read speed: the same pass, plain and frozen, in this state (median of 3)
local function best_of (t)
  local ts = {}
  for k = 1, 3 do
    local t0 = gochan.now()
    pass(t)
    ts[k] = gochan.now() - t0
  end
  table.sort(ts)
  return ts[2]
end
local plain_s = best_of(src)
local frozen_s = best_of(f)

-- a field read: one record's field, read M times (median of 3)
local M = 1000000
local function reads (r)
  local ts = {}
  for k = 1, 3 do
    local s, t0 = 0, gochan.now()
    for _ = 1, M do s = s + r.id end
    ts[k] = gochan.now() - t0
    assert(s == M * r.id)
  end
  table.sort(ts)
  return ts[2]
end
local read_x = reads(f[N // 2]) / reads(src[N // 2])
local expect = pass(src)
assert(pass(f) == expect, "W7: frozen pass differs from the plain one")
src = nil                                  -- luacheck: ignore (dropped)
full_gc()

local rss0 = rss_kb()
stop = B.timer()
local done, hold = gochan.chan(R), gochan.chan()
local wg = gochan.waitgroup()
for _ = 1, R do
  wg:go(function(t, d, h, p)
    d:send(p(t))
    h:recv()                               -- stays alive, holding t
  end, f, done, hold, pass)
end
for _ = 1, R do assert(done:recv(600) == expect, "W7: a reader's sum is wrong") end
local t, cpu = stop()
local added_kb = rss_kb() - rss0
hold:close()
assert(wg:wait(600), "W7: readers did not end")

B.report("W7", "ms", (t + freeze_s) * 1000, "cpu_s", ("%.3f"):format(cpu),
         "mem_ratio", ("%.4f"):format(added_kb / plain_kb),
         "read_x", ("%.2f"):format(read_x),
         "pass_x", ("%.2f"):format(frozen_s / plain_s),
         "added_mb", ("%.1f"):format(added_kb / 1024),
         "plain_mb", ("%.1f"):format(plain_kb / 1024),
         "freeze_ms", ("%.1f"):format(freeze_s * 1000),
         "plain_ns", ("%.0f"):format(plain_s / N * 1e9),
         "frozen_ns", ("%.0f"):format(frozen_s / N * 1e9))
