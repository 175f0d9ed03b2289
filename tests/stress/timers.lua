-- tests/stress/timers.lua <workers>: timers under load. Tickers of periods
-- far below a microsecond tick, stop, and leave the timer thread working;
-- thousands of after() timers fire, none early; sleeps return. Each call
-- that could hang runs in a task joined with a timeout.

package.path = (arg[0]:match("^(.*/)") or "./") .. "?.lua;" .. package.path
local S = require "common"
local gochan = require "gochan"

local WORKERS = S.workers()

-- Runs fn(...) in a task that must end within 'limit' seconds.
local function within (limit, what, fn, ...)
  local t0 = gochan.now()
  local t = gochan.go(fn, ...)
  local r = table.pack(t:join(limit))
  if r[1] == nil then S.fail(what, "did not finish within %g s", limit) end
  if r[1] == false then S.fail(what, "task failed: %s", tostring(r[2])) end
  return gochan.now() - t0, table.unpack(r, 2, r.n)
end

-- The timer thread still serves others: an after(0.01) arrives, in time.
local function timer_alive (what)
  local dt = within(5, what .. ": after(0.01) afterwards", function ()
    local gochan = require "gochan"
    local _, ok = gochan.after(0.01):recv(5)
    if not ok then error("after(0.01) gave nothing within 5 s") end
    gochan.sleep(0.001)
  end)
  return dt
end

-- 1. Tiny periods, one at a time: tick, stop, the timer thread lives.
for _, tiny in ipairs { 1e-12, 1e-9, 1e-7, 1e-6, 1e-5, 1e-4 } do
  local what = ("workers=%d ticker(%g)"):format(WORKERS, tiny)
  local dt, ticks = within(5, what .. ": ticks then stop", function (period, n)
    local gochan = require "gochan"
    local tk = gochan.ticker(period)
    local got = 0
    for _ = 1, n do
      local _, ok = tk.c:recv(5)
      if not ok then error("no tick within 5 s") end
      got = got + 1
    end
    tk:stop()
    tk.c:try_recv()                 -- a tick sent before stop may wait there
    local _, ok = tk.c:recv(0.01)
    if ok then error("a tick arrived after stop") end
    return got
  end, tiny, S.scaled(200, 3))
  local alive = timer_alive(what)
  S.ok(what, "%d ticks received, stopped, no tick after stop (%.3f s); after(0.01) "
       .. "then took %.3f s", ticks, dt, alive)
end

-- 2. Many tiny tickers at once, in tasks, while after() timers come and go.
do
  local what = ("workers=%d concurrent tiny tickers"):format(WORKERS)
  local n = S.scaled(16, 4)
  local dt, total = within(20, what, function (n, rounds)
    local gochan = require "gochan"
    local wg, ticks = gochan.waitgroup(), gochan.atomic(0)
    for i = 1, n do
      wg:go(function (period, rounds)
        local gochan = require "gochan"
        for _ = 1, rounds do
          local tk = gochan.ticker(period)
          for _ = 1, 5 do
            local i2 = gochan.select { { "recv", tk.c }, { "recv", gochan.after(5) } }
            if i2 ~= 1 then error("no tick within 5 s") end
            ticks:add(1)
          end
          tk:stop()
          local _, ok = gochan.after(1e-4):recv(5)
          if not ok then error("after(1e-4) gave nothing within 5 s") end
        end
      end, ({ 1e-9, 1e-8, 1e-6, 1e-5 })[i % 4 + 1], rounds)
    end
    if not wg:wait(15) then error("tickers did not finish") end
    return ticks:get()
  end, n, S.scaled(50, 5))
  S.ok(what, "%d tasks, %d ticks, every ticker stopped (%.3f s); after(0.01) then took %.3f s",
       n, total, dt, timer_alive(what))
end

-- 3. after() storms: many timers with random delays, none fires early.
do
  local what = ("workers=%d after storm"):format(WORKERS)
  local tasks, per = S.scaled(40, 4), S.scaled(250, 10)
  local dt, fired, worst = within(60, what, function (tasks, per)
    local gochan = require "gochan"
    local results = gochan.chan(tasks)
    for i = 1, tasks do
      gochan.go(function (per, seed)
        local gochan = require "gochan"
        math.randomseed(seed)
        local fired, worst = 0, 0
        for _ = 1, per do
          local d = math.random() * 0.005
          local t0 = gochan.now()
          local v, ok = gochan.after(d):recv(5)
          if not ok then error("after gave nothing within 5 s") end
          if v < t0 + d - 1e-6 then error(("after(%g) fired %g s early"):format(d, t0 + d - v)) end
          fired, worst = fired + 1, math.max(worst, v - t0 - d)
        end
        results:send({ fired, worst }, 30)
      end, per, i)
    end
    local fired, worst = 0, 0
    for _ = 1, tasks do
      local r = results:recv(30)
      if not r then error("a storm task gave no result") end
      fired, worst = fired + r[1], math.max(worst, r[2])
    end
    return fired, worst
  end, tasks, per)
  S.check(fired == tasks * per, what, "%d of %d timers fired", fired, tasks * per)
  S.ok(what, "%d timers fired, none early, latest %.4f s late (%.3f s)", fired, worst, dt)
end

-- 4. The main state waits on a tiny ticker and sleeps meanwhile.
do
  local what = ("workers=%d main state ticker(1e-9)"):format(WORKERS)
  local tk = gochan.ticker(1e-9)
  for _ = 1, S.scaled(100, 5) do
    local _, ok = tk.c:recv(5)
    S.check(ok, what, "no tick within 5 s")
  end
  tk:stop()
  local t0 = gochan.now()
  gochan.sleep(0.01)
  local dt = gochan.now() - t0
  S.check(dt < 2, what, "sleep(0.01) took %.3f s", dt)
  S.ok(what, "ticks received, stopped, sleep(0.01) took %.3f s", dt)
end
