-- tests/stress/leaks.lua [kind]: making and dropping objects keeps the Lua
-- heap flat. For one kind (or, without an argument, each in turn) a child
-- process makes and drops N objects in one loop with no collectgarbage call
-- in it, and another child 3N; after a full collection the heap of the 3N
-- child must be within 1 MB of the N child's. (Fresh processes: a cache
-- that never shrinks keeps, in one process, the size the first loop gave
-- it, and a second loop then looks flat.) In a testing build
-- (gochan.core._live) each child also shows that every core object it made
-- was freed: the live count is back to what it was before its loop.
-- args: chan waitgroup mutex atomic ticker task context timeout cond rwmutex
-- semaphore once timer after_func notifier selector frozen group

package.path = (arg[0]:match("^(.*/)") or "./") .. "?.lua;" .. package.path
local S = require "common"
local gochan = require "gochan"
local core = require "gochan.core"

local live = type(core._live) == "function" and core._live or nil
local SLACK = 1024                            -- KB the heap may grow from N to 3N
local N = S.scaled(1000000, 1000)
local NTASK = S.scaled(100000, 100)           -- tasks cost ~100x an object

local function empty () end
-- What the kinds share, made once: a parent context that lives on, the
-- lock of the conds, the channel the notifiers watch, the selector's cases.
local PARENT = gochan.with_cancel()
local LOCK = gochan.mutex()
local WATCHED = gochan.chan(1)
local CASES = { { "recv", WATCHED }, default = true }

-- kind -> { n, make }: make(i) makes one object and drops it.
local KINDS = {
  chan = { N, function () gochan.chan() end },
  waitgroup = { N, function () gochan.waitgroup() end },
  mutex = { N, function () gochan.mutex() end },
  atomic = { N, function (i) gochan.atomic(i) end },
  ticker = { N, function () gochan.ticker(3600):stop() end },
  task = { NTASK, function ()
    local ok = gochan.go(empty):join(S.WAIT)
    if ok ~= true then S.fail("task", "join of an empty task gave %s", tostring(ok)) end
  end },
  context = { N, function (i)                  -- canceled, dropped live, valued
    local c, cancel = gochan.with_cancel(PARENT)
    if i % 2 == 0 then cancel() end
    gochan.with_value(c, "k", i):done()
  end },
  timeout = { N, function () gochan.with_timeout(PARENT, 3600) end },
  cond = { N, function () gochan.cond(LOCK) end },
  rwmutex = { N, function () gochan.rwmutex():rlock() end },
  semaphore = { N, function () gochan.semaphore(2):acquire() end },
  once = { N, function () gochan.once():call(empty) end },
  timer = { N, function () gochan.timer(3600):stop() end },
  after_func = { N, function () gochan.after_func(3600, empty):stop() end },
  notifier = { N, function (i)                 -- closed, or dropped open
    local nt = gochan.notifier(WATCHED)
    if i % 2 == 0 then nt:close() end
  end },
  selector = { N, function () gochan.selector(CASES) end },
  frozen = { N, function (i) gochan.freeze({ i, { s = "x" .. i } })[2].s:len() end },
  group = { S.scaled(25000, 100), function ()   -- a group task costs ~2 tasks
    local g = gochan.group()
    g:go(empty)
    if g:wait(S.WAIT) ~= true then S.fail("group", "wait of an empty task failed") end
  end },
}
local ORDER = { "chan", "waitgroup", "mutex", "atomic", "ticker", "task", "context",
                "timeout", "cond", "rwmutex", "semaphore", "once", "timer", "after_func",
                "notifier", "selector", "frozen", "group" }

local function heap ()
  collectgarbage()
  collectgarbage()
  return collectgarbage("count")
end

-- The live counts by type that differ from 'base', as "type a -> b, ...".
local function diff (base, now)
  local out, seen = {}, {}
  for k, v in pairs(now) do
    seen[k] = true
    if v ~= (base[k] or 0) then out[#out + 1] = ("%s %d -> %d"):format(k, base[k] or 0, v) end
  end
  for k, v in pairs(base) do
    if not seen[k] and v ~= 0 then out[#out + 1] = ("%s %d -> 0"):format(k, v) end
  end
  table.sort(out)
  return table.concat(out, ", ")
end

-- The child: makes and drops 'mult' * n objects of 'kind', then writes its
-- heap after a full collection. Fails if a core object is still alive.
local function child (kind, mult)
  local n, make = KINDS[kind][1] * mult, KINDS[kind][2]
  local what = ("%s x %d"):format(kind, n)
  local base_total, base_by
  if live then
    heap()
    base_total, base_by = live()
  end
  local t0 = gochan.now()
  for i = 1, n do make(i) end
  local dt = gochan.now() - t0
  local kb = heap()
  if live then
    -- A worker or the timer thread may drop its last reference just after
    -- the join or stop returned: look again, for a bounded time.
    local total, by = live()
    local deadline = gochan.now() + 5
    while total ~= base_total and gochan.now() < deadline do
      gochan.sleep(0.01)
      heap()
      total, by = live()
    end
    S.check(total == base_total, what, "%d live core objects after a full collection, %d "
            .. "before the loop (%s)", total, base_total, diff(base_by, by))
  end
  io.stdout:write(("heap %.3f time %.3f live %s\n"):format(kb, dt, base_total or "-"))
end

local function q (x) return "'" .. tostring(x):gsub("'", "'\\''") .. "'" end
local LUA = os.getenv("STRESS_LUA") or "lua5.4"

-- Runs the child for 'kind' and 'mult'; returns its heap (KB), the time of
-- its loop and its live count (nil unless a testing build).
local function run (kind, mult)
  local what = ("%s x %d"):format(kind, KINDS[kind][1] * mult)
  local cmd = ("timeout -s KILL %d %s %s %s %d 2>&1"):format(
    math.ceil(S.WAIT), LUA, q(arg[0]), q(kind), mult)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local _, how, code = p:close()
  local kb, dt, lv = out:match("^heap ([%d.]+) time ([%d.]+) live ([%d-]+)\n$")
  if how ~= "exit" or code ~= 0 or not kb then
    S.fail(what, "the child ended by %s %s; its output:\n%s", how, tostring(code), out)
  end
  return tonumber(kb), tonumber(dt), tonumber(lv)
end

local function check (kind)
  local h1, t1, live1 = run(kind, 1)
  local h3, t3, live3 = run(kind, 3)
  local n = KINDS[kind][1]
  local what = ("%s x %d and x %d"):format(kind, n, 3 * n)
  S.check(h3 - h1 <= SLACK, what, "Lua heap after a full collection %.0f KB after %d made "
          .. "and dropped, %.0f KB after %d (+%.0f KB, limit +%d KB)",
          h1, n, h3, 3 * n, h3 - h1, SLACK)
  S.ok(what, "Lua heap after a full collection %.0f KB then %.0f KB (%+.0f KB), loops of "
       .. "%.1f s and %.1f s, %s", h1, h3, h3 - h1, t1, t3,
       live1 and ("live core objects back to %d and %d"):format(live1, live3)
       or "no live count (not a testing build)")
end

local kind, mult = arg[1], tonumber(arg[2])
if kind and kind ~= "" then
  S.check(KINDS[kind], kind, "unknown kind (have: %s)", table.concat(ORDER, " "))
  if mult then child(kind, mult) else check(kind) end
else
  for _, k in ipairs(ORDER) do check(k) end
end
