-- pizzeria.lua: the second seed program. A pizzeria task makes ten orders,
-- one at a time, and offers each on a data channel; main consumes them.
-- When main has seen the last order it asks the pizzeria to quit by sending
-- a reply channel on the quit channel (Go's chan chan error). Each pizza
-- takes 1-5 s; GOCHAN_DELAY_SCALE scales that (0.01 for a fast run).
-- Run it with `./dev example` (or `./dev example pizzeria`).
local gochan = require "gochan"

local NUMBER_OF_PIZZAS = 10
local SCALE = tonumber(os.getenv("GOCHAN_DELAY_SCALE")) or 1

-- fatih/color: ANSI colours only on a terminal, and not if NO_COLOR is set.
local tty = os.execute("test -t 1") and os.getenv("NO_COLOR") == nil
local function painter(code)
  return function(fmt, ...)
    local s = fmt:format(...)
    gochan.print(tty and ("\27[" .. code .. "m" .. s .. "\27[0m") or s)
  end
end
local cyan, green, red = painter("36"), painter("32"), painter("31")

-- makePizza: order number n + 1; past NUMBER_OF_PIZZAS an empty order,
-- which tells main that the day is over. Returns the order and its outcome
-- ("made", "failed" or nil for the empty order).
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
  return order, order.success and "made" or "failed"
end

-- The pizzeria task: runs until something arrives on quit. Its counters
-- live in its own Lua state, so it returns them when it quits.
local function pizzeria(data, quit)
  local count = { made = 0, failed = 0 }
  local n = 0
  while true do
    local order, outcome = make_pizza(n)
    n = order.number
    if outcome then count[outcome] = count[outcome] + 1 end
    local case, reply = gochan.select {
      { "send", data, order },  -- offer the order to main
      { "recv", quit },         -- or quit: main sent a reply channel
    }
    if case == 2 then
      data:close()
      reply:close()             -- Go's close(quitChan): the reply is nil, no error
      return count.made, count.failed, count.made + count.failed
    end
  end
end

-- Producer: the data channel and the quit channel, and Close.
local Producer = {}
Producer.__index = Producer

function Producer.new()
  return setmetatable({ data = gochan.chan(), quit = gochan.chan() }, Producer)
end

-- Asks the pizzeria to stop; returns its error (nil when all went well).
function Producer:close()
  local reply = gochan.chan()
  self.quit:send(reply)
  return (reply:recv())
end

cyan("The Pizzeria is open for business!")
cyan("----------------------------------")

local job = Producer.new()
-- (Go's `go pizzeria(...)`; spawn only adds a name, which gochan.tasks(),
-- gochan.dump() and a trace show)
local shop = gochan.spawn({ name = "pizzeria" }, pizzeria, job.data, job.quit)

for order in job.data:range() do
  if order.number <= NUMBER_OF_PIZZAS then
    if order.success then
      green(order.message)
      green("Order #%d is out for delivery!", order.number)
    else
      red(order.message)
      red("The customer is really mad!")
    end
  else
    cyan("Done making pizzas...")
    local err = job:close()
    if err ~= nil then red("*** Error closing channel! %s", tostring(err)) end
  end
end

local _, made, failed, total = assert(shop:join())
cyan("-----------------")
cyan("Done for the day.")
cyan("We made %d pizzas, but failed to make %d, with %d attempts in total.",
  made, failed, total)
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
