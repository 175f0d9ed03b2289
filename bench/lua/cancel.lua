-- CANCEL: N tasks blocked in ch:recv(ctx) on one context (and one channel
-- nobody sends on); the figure is the time from cancel() until the last of
-- them has returned from its recv (each then counts itself on a
-- waitgroup, which the main state waits on, and waits for the end of the
-- run, so that no task's end is timed).
-- Usage: lua5.4 bench/lua/cancel.lua [N=100000]; prints
-- `CANCEL ms_to_last <x> peak_rss_kb <kb>`.
local B = dofile(((arg and arg[0] or ""):match("^(.*)/") or ".") .. "/common.lua")
local gochan = B.gochan
local N = B.size(100000)

B.warmup()
local ctx, cancel = gochan.with_cancel()
local ch, wg, ready = gochan.chan(), gochan.waitgroup(), gochan.atomic(0)
local finish = gochan.chan()
wg:add(N)
local function waiter(c, x, w, r, f)
  r:add(1)
  local _, _, err = c:recv(x)
  w:done()
  assert(err == "context canceled")
  f:recv()
end
for _ = 1, N do gochan.go(waiter, ch, ctx, wg, ready, finish) end
-- every task has started; then every one is parked (gochan.tasks())
while ready:get() < N do gochan.sleep(0.01) end
while true do
  local blocked = 0
  for _, t in ipairs(gochan.tasks()) do
    if t.status == "blocked" then blocked = blocked + 1 end
  end
  if blocked == N then break end
  gochan.sleep(0.01)
end
local stop = B.timer()
cancel()
assert(wg:wait(60), "CANCEL: the tasks did not all return")
local t, cpu = stop()
finish:close()
B.report("CANCEL", "ms_to_last", t * 1e3, "cpu_s", ("%.3f"):format(cpu),
         "peak_rss_kb", B.peak_rss_kb())
