-- distributed_pizzeria.lua: the pizzeria (examples/pizzeria.lua) with the
-- shop and its customers in two processes, over NATS:
--
--   lua5.4 examples/distributed_pizzeria.lua shop     # one terminal
--   lua5.4 examples/distributed_pizzeria.lua orders   # another
--
-- The orders travel on a distributed channel (conn:channel, a JetStream
-- work queue) of capacity 1: the shop makes the next pizza once the
-- customer has taken the last one. When the customers have seen the last
-- order they ask the shop to quit by publishing a reply channel (Go's
-- `quit <- chan error`): it arrives in the shop as a channel whose close
-- reaches the customers. The server: NATS_URL (default
-- nats://127.0.0.1:4222), with JetStream (nats-server -js). Each pizza
-- takes 1-5 s; GOCHAN_DELAY_SCALE scales that.
local gochan = require "gochan"
local nats = require "gochan.nats"

local NUMBER_OF_PIZZAS = 10
local SCALE = tonumber(os.getenv("GOCHAN_DELAY_SCALE")) or 1
local URL = os.getenv("NATS_URL") or "nats://127.0.0.1:4222"
local NAME = os.getenv("PIZZERIA") or "pizzeria"   -- the channel, and the
local QUIT = NAME .. ".quit"                       -- subjects of the shop
local OPEN = NAME .. ".open"

local tty = os.execute("test -t 1") and os.getenv("NO_COLOR") == nil
local function painter(code)
  return function(fmt, ...)
    local s = fmt:format(...)
    gochan.print(tty and ("\27[" .. code .. "m" .. s .. "\27[0m") or s)
  end
end
local cyan, green, red = painter("36"), painter("32"), painter("31")

local function make_pizza(n)
  n = n + 1
  if n > NUMBER_OF_PIZZAS then return { number = n } end
  local delay = math.random(5)
  print(("Received order #%d!"):format(n))
  local rnd = math.random(12)
  print(("Making pizza #%d. It will take %d seconds...."):format(n, delay))
  gochan.sleep(delay * SCALE)
  local order = { number = n, success = false }
  if rnd <= 2 then
    order.message = ("*** We ran out of ingredients for pizza #%d!"):format(n)
  elseif rnd <= 4 then
    order.message = ("*** The cook quit while making pizza #%d!"):format(n)
  else
    order.success = true
    order.message = ("Pizza order #%d is ready!"):format(n)
  end
  return order
end

-- The shop: a new day's channel, then the orders until the customers send
-- their reply channel on QUIT.
local function shop(conn)
  io.stdout:setvbuf("line")
  conn:delete_channel(NAME)                  -- yesterday's orders, if any
  local data = conn:channel(NAME, { cap = 1 })
  local quit = conn:subscribe(QUIT)
  conn:serve(OPEN, function() return NAME end)  -- "we are open": the name
  assert(conn:flush(5))
  local n = 0
  while true do
    local order = make_pizza(n)
    n = order.number
    assert(data:send(order))     -- waits while the last one is not taken
    if n > NUMBER_OF_PIZZAS then break end
  end
  local reply = quit:recv()      -- the customers' chan error
  data:close()
  reply:close()                  -- Go's close(quitChan): no error
end

-- The customers.
local function orders(conn)
  local name, err
  for _ = 1, 200 do              -- wait (10 s at most) for the shop to open
    name, err = conn:request(OPEN, "hello", 1)
    if name then break end
    gochan.sleep(0.05)
  end
  assert(name, "the pizzeria does not answer: " .. tostring(err))
  local data = conn:channel(name)
  cyan("The Pizzeria is open for business!")
  cyan("----------------------------------")
  local made, failed = 0, 0
  for order in data:range() do
    if order.number <= NUMBER_OF_PIZZAS then
      if order.success then
        made = made + 1
        green(order.message)
        green("Order #%d is out for delivery!", order.number)
      else
        failed = failed + 1
        red(order.message)
        red("The customer is really mad!")
      end
    else
      cyan("Done making pizzas...")
      local reply = gochan.chan()
      conn:publish(QUIT, reply)
      local e = reply:recv(30)
      if e ~= nil then red("*** Error closing channel! %s", tostring(e)) end
    end
  end
  conn:delete_channel(name)      -- the day is over: the stream goes
  cyan("-----------------")
  cyan("Done for the day.")
  cyan("We made %d pizzas, but failed to make %d, with %d attempts in total.",
    made, failed, made + failed)
  if failed > 9 then
    red("It was an awful day...")
  elseif failed >= 6 then
    red("It was not a very good day...")
  elseif failed >= 4 then
    cyan("It was an okay day....")
  elseif failed >= 2 then
    cyan("It was a pretty good day!")
  else
    cyan("It was a great day!")
  end
end

local role = arg[1]
if role ~= "shop" and role ~= "orders" then
  io.stderr:write("usage: lua5.4 examples/distributed_pizzeria.lua shop|orders\n")
  os.exit(2)
end
local conn = nats.connect(URL, { name = "pizzeria " .. role })
if role == "shop" then shop(conn) else orders(conn) end
conn:close()
