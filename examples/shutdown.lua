-- shutdown.lua: a service whose workers stop cleanly on Ctrl-C. Every part
-- of it runs under one root context: the workers take jobs until it is
-- done, the job source stops producing, and a job in progress is cut short.
-- Ctrl-C makes the main state's wait raise "interrupted"; main then cancels
-- the root, and waits (at most 5 s) for everyone to finish what they do.
-- Run: `./dev example shutdown`, then Ctrl-C; or give it the seconds after
-- which it shuts down by itself: `lua5.4 examples/shutdown.lua 0.3`.
local gochan = require "gochan"

local root, cancel = gochan.with_cancel()
local jobs = gochan.chan()
local wg = gochan.waitgroup()
local done = gochan.atomic(0)

-- The job source: one job every 10 ms until the root is done.
wg:go(function(ctx, out)
  local n = 0
  while true do
    n = n + 1
    local i = gochan.select({ { "send", out, n } }, ctx)
    if i == nil then return end             -- nil, err: the context is done
    if not gochan.sleep(0.01, ctx) then return end
  end
end, root, jobs)

for w = 1, 3 do
  wg:go(function(ctx, inbox, count, id)
    for _ in inbox:range(ctx) do            -- ends when the context is done
      if gochan.sleep(0.025, ctx) then      -- the work; cut short by a cancel
        count:add(1)
      end
    end
    gochan.print(("worker %d stopped (%s)"):format(id, ctx:err()))
  end, root, jobs, done, w)
end

local after = tonumber(arg and arg[1])
if after then                               -- a stand-in for the Ctrl-C
  gochan.go(function(ctx, s) gochan.sleep(s) ctx:cancel() end, root, after)
end
print("serving; press Ctrl-C to stop")
local ok, err = pcall(gochan.select, { { "recv", root:done() } })
if not ok then print("\n" .. tostring(err):gsub("^.-: ", "") .. ": shutting down") end
cancel()                                    -- every part stops
if wg:wait(5) then
  print(("stopped cleanly after %s jobs"):format(done:get() > 0 and "some" or "no"))
else
  print("some workers did not stop in time")
  os.exit(1)
end
