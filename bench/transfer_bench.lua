-- bench/transfer_bench.lua: what one message costs to encode and decode.
-- Sends and receives through a buffered channel in the main state, so each
-- iteration is transfer_pack + chan_send + chan_recv + transfer_push.
-- Usage: lua5.4 bench/transfer_bench.lua [N]   (from the repository root,
-- after ./dev build). Prints ns per message for a few message shapes.
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "build/?.so;" .. package.cpath
local gochan = require "gochan"
local clock = os.clock

local N = tonumber(arg and arg[1]) or 1000000
local ch = gochan.chan(1)

local function run(name, make)
  local send, recv = ch.send, ch.recv
  for i = 1, N // 10 do send(ch, make(i)); recv(ch) end  -- warm up
  -- the cost of building the message in Lua, measured apart
  local t0 = clock()
  for i = 1, N do make(i) end
  local tmake = clock() - t0
  t0 = clock()
  for i = 1, N do send(ch, make(i)); recv(ch) end
  local t = clock() - t0 - tmake
  print(("%-34s %8.0f ns/message"):format(name, t / N * 1e9))
end

print(("transfer benchmark, %d messages each (make cost subtracted)"):format(N))
run("integer", function(i) return i end)
run("short string", function() return "pizza" end)
run("{id = i, name = 'pizza', ok = true}",
    function(i) return { id = i, name = "pizza", ok = true } end)
run("{1, 2, 3, 4, 5, 6, 7, 8}", function() return { 1, 2, 3, 4, 5, 6, 7, 8 } end)
run("{ch = ch, fn = string.format}", function() return { ch = ch, fn = string.format } end)
local up = 1
run("closure with 1 upvalue", function() return function() return up end end)
