-- tests/stress/timeouts.lua <workers>: timeouts racing deliveries. A send
-- with a timeout that returns false delivered nothing, and one that returns
-- true delivered its value exactly once; a receive that timed out took
-- nothing (or the value it took would be missing below). Both sides use
-- timeouts from 0 to half a millisecond, as plain calls and as selects on
-- gochan.after, in tasks and in the main state, on capacities 0 and 1.

package.path = (arg[0]:match("^(.*/)") or "./") .. "?.lua;" .. package.path
local S = require "common"
local gochan = require "gochan"

local WORKERS = S.workers()
local ATTEMPTS = S.scaled(10000, 50)     -- sends per sender
local TIMEOUTS = { 0, 1e-6, 1e-5, 1e-4, 5e-4 }

-- Sends ids base+1 .. base+n, each with a random timeout and 'style'.
-- Returns the ids that were sent and the ids that timed out.
local function sender (ch, style, base, n, timeouts, seed)
  local gochan = require "gochan"
  math.randomseed(seed)
  local sent, late = {}, {}
  for id = base + 1, base + n do
    local t = timeouts[math.random(#timeouts)]
    local ok
    if style == "select" then
      local i = gochan.select { { "send", ch, id }, { "recv", gochan.after(t) } }
      ok = i == 1
    else
      ok = ch:send(id, t)
      if ok ~= true and ok ~= false then error("send returned " .. tostring(ok)) end
    end
    if ok then sent[#sent + 1] = id else late[#late + 1] = id end
  end
  return sent, late
end

-- Receives with random timeouts until the channel is closed and drained.
-- Returns the ids taken and how many receives timed out.
local function receiver (ch, style, timeouts, seed)
  local gochan = require "gochan"
  math.randomseed(seed)
  local got, empty = {}, 0
  while true do
    local t = timeouts[math.random(#timeouts)]
    local v, ok
    if style == "select" then
      local i
      i, v, ok = gochan.select { { "recv", ch }, { "recv", gochan.after(t) } }
      if i == 2 then v, ok = nil, nil end
    else
      v, ok = ch:recv(t)
    end
    if ok == true then got[#got + 1] = v
    elseif ok == false and v == nil then return got, empty
    elseif ok == nil and v == nil then empty = empty + 1
    else error(("recv returned %s, %s"):format(tostring(v), tostring(ok))) end
  end
end

local function closer (ch, wg, wait)
  if not wg:wait(wait) then error("senders did not finish") end
  ch:close()
end

local function round (cap, sstyle, rstyle, main_receives)
  local what = ("workers=%d cap=%d send=%s recv=%s%s"):format(
    WORKERS, cap, sstyle, rstyle, main_receives and " (main receives)" or "")
  local ch, wg = gochan.chan(cap), gochan.waitgroup()
  local senders, receivers = {}, {}
  for s = 1, 2 do
    wg:add(1)
    senders[s] = gochan.go(function (...)
      local res = table.pack(pcall(sender, ...))
      wg:done()
      if not res[1] then error(res[2], 0) end
      return table.unpack(res, 2, res.n)
    end, ch, sstyle, s * 10000000, ATTEMPTS, TIMEOUTS, math.random(1 << 30))
  end
  local ct = gochan.go(closer, ch, wg, S.WAIT)
  for r = 1, 2 do receivers[r] = gochan.go(receiver, ch, rstyle, TIMEOUTS, math.random(1 << 30)) end
  local mine = main_receives and table.pack(receiver(ch, rstyle, TIMEOUTS, math.random(1 << 30)))

  local state, nsent, nlate, nrecv, nempty = {}, 0, 0, 0, 0
  for s = 1, 2 do
    local sent, late = S.join(senders[s], what .. " sender")
    for _, id in ipairs(sent) do state[id] = "sent" end
    for _, id in ipairs(late) do state[id] = "late" end
    nsent, nlate = nsent + #sent, nlate + #late
  end
  S.join(ct, what .. " closer")
  local function take (got, empty, who)
    nempty = nempty + empty
    for _, id in ipairs(got) do
      local st = state[id]
      if st == "late" then S.fail(what, "id %d received by %s, but its send timed out", id, who) end
      if st == "received" then S.fail(what, "id %d received twice (by %s)", id, who) end
      if st == nil then S.fail(what, "id %d received by %s, but never sent", id, who) end
      state[id] = "received"
      nrecv = nrecv + 1
    end
  end
  for r = 1, 2 do take(S.join(receivers[r], what .. " receiver")) end
  if mine then take(mine[1], mine[2], "the main state") end
  for id, st in pairs(state) do
    S.check(st ~= "sent", what, "id %d: its send returned true but nobody received it", id)
  end
  S.ok(what, "%d sent = %d received once, %d timed-out sends never received, "
       .. "%d timed-out receives took nothing", nsent, nrecv, nlate, nempty)
  return nlate, nempty
end

-- A round may see no timeout at all (with many workers on few cores the
-- other side is often there first); over the whole run, each style of send
-- and of receive must have timed out, or the races were not exercised.
local late, empty = { timeout = 0, select = 0 }, { timeout = 0, select = 0 }
local function count (ss, rs, nlate, nempty)
  late[ss], empty[rs] = late[ss] + nlate, empty[rs] + nempty
end

math.randomseed(tonumber(os.getenv("STRESS_SEED")) or os.time())
for _, cap in ipairs { 0, 1 } do
  for _, ss in ipairs { "timeout", "select" } do
    for _, rs in ipairs { "timeout", "select" } do
      count(ss, rs, round(cap, ss, rs, false))
    end
  end
  count("timeout", "timeout", round(cap, "timeout", "timeout", true))
  count("select", "select", round(cap, "select", "select", true))
end
local what = ("workers=%d all"):format(WORKERS)
for _, style in ipairs { "timeout", "select" } do
  S.check(late[style] > 0, what, "no send with style %s ever timed out", style)
  S.check(empty[style] > 0, what, "no receive with style %s ever timed out", style)
end
S.ok(what, "sends timed out %d (timeout) and %d (select) times, receives %d and %d times, "
     .. "none delivered", late.timeout, late.select, empty.timeout, empty.select)
