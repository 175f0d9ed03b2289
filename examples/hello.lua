-- hello.lua: gochan from the main Lua state alone (no tasks): a buffered
-- channel, close and range, select with a default and with a timeout case,
-- a WaitGroup counter and a ticker. Run it with `./dev example hello`.
local gochan = require "gochan"

-- A buffered channel holds up to 'cap' values without a receiver.
local ch = gochan.chan(3)
for _, v in ipairs { "ping", 42, 2.5 } do assert(ch:send(v, 1)) end
print(("sent 3 values: len %d, cap %d, full: try_send -> %s")
  :format(#ch, ch:cap(), tostring(ch:try_send("extra"))))
print("recv ->", ch:recv(1))                     -- ping  true

-- Closing keeps what is buffered; range drains it, then stops.
ch:close()
for v in ch:range() do print("range ->", v) end  -- 42, then 2.5
print("recv on closed, drained ->", ch:recv(1))  -- nil  false

-- select with a default never blocks: nothing is ready, so it returns nil.
local idle = gochan.chan()
print("select with default ->", gochan.select { { "recv", idle }, default = true })

-- A timeout is just another case: gochan.after(s) delivers the time once.
local start = gochan.now()
local i, waited = gochan.select {
  { "recv", idle, function() return "a value" end },
  { "recv", gochan.after(0.05), function(t) return t - start >= 0.05 end },
}
print("select: case", i, "fired; waited 50 ms:", waited)   -- 2  true

-- A WaitGroup counts outstanding work; wait returns once it is zero.
local wg = gochan.waitgroup()
wg:add(3)
print("wg:wait(0.01) with 3 pending ->", wg:wait(0.01))   -- false
for _ = 1, 3 do wg:done() end
print("wg:wait(1) after 3 done ->", wg:wait(1))           -- true

-- A ticker sends the time on tk.c every interval until stopped.
local tk = gochan.ticker(0.02)
local last = start
for n = 1, 3 do
  local t = assert(tk.c:recv(1), "tick timed out")
  print(("tick %d (later than the previous: %s)"):format(n, tostring(t > last)))
  last = t
end
tk:stop()
print("ticker stopped; done")
