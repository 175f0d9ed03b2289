-- tests/stress/exactly_once.lua <workers>: every value sent successfully is
-- received exactly once, and no value whose send failed (timed out, would
-- block, or met a closed channel) is ever received, for every send style
-- against every receive style, capacities 0, 1 and 16, while a closer task
-- closes the channels at a random moment in the middle of it all.
--
-- Each round has two channels. Producers send unique integers with one
-- style and report which ids they sent and which failed; consumers take
-- until their channels are closed and drained and report what they got.
-- The main state checks the three sets against each other.

package.path = (arg[0]:match("^(.*/)") or "./") .. "?.lua;" .. package.path
local S = require "common"
local gochan = require "gochan"

local WORKERS = S.workers()
local PRODUCERS, CONSUMERS = 8, 5
local PER_PRODUCER = S.scaled(300, 20)      -- successful sends each producer aims for
local PASSES = S.scaled(4, 1)               -- times through every capacity and style
local T = 0.001                             -- the short timeouts that race deliveries

local SEND_STYLES = { "send", "send_timeout", "try_send", "select_after",
                      "select_two", "select_default", "select_handler" }
local RECV_STYLES = { "recv", "recv_timeout", "try_recv", "select_after",
                      "select_two", "select_default", "select_handler", "range" }

-- A producer: sends ids base+1, base+2, ... with 'style' until 'want' were
-- sent, a send meets a closed channel, or 20 * want attempts. Returns the
-- ids sent, the ids that failed, and the number of timeouts.
local function producer (style, ch, ch1, ch2, base, want, T, attempts, threshold, trigger)
  local gochan = require "gochan"
  local sent, failed, timeouts = {}, {}, 0
  local id = base
  local function closed_error (err)
    if not tostring(err):find("send on closed channel", 1, true) then error(err, 0) end
  end
  while #sent < want and id - base < 20 * want do
    id = id + 1
    local ok, res, extra = pcall(function ()
      if style == "send" then return ch:send(id)
      elseif style == "send_timeout" then return ch:send(id, T)
      elseif style == "try_send" then return ch:try_send(id)
      elseif style == "select_after" then
        return gochan.select { { "send", ch, id }, { "recv", gochan.after(T) } } == 1
      elseif style == "select_two" then
        local i = gochan.select { { "send", ch1, id }, { "send", ch2, id } }
        return i == 1 or i == 2
      elseif style == "select_default" then
        return gochan.select { { "send", ch, id }, default = true } == 1
      elseif style == "select_handler" then
        local i, what = gochan.select {
          { "send", ch, id, function () return "sent" end },
          { "recv", gochan.after(T), function (_, ok) return ok and "late" or "bad" end },
        }
        if (i == 1) ~= (what == "sent") or (i == 2) ~= (what == "late") then
          error(("select returned case %s with handler result %s"):format(i, what))
        end
        return i == 1
      end
      error("unknown send style " .. style)
    end)
    local n = attempts:add(1)
    if n == threshold then trigger:try_send(true) end
    if not ok then
      closed_error(res)
      failed[#failed + 1] = id
      break
    elseif res == true and extra == nil then
      sent[#sent + 1] = id
    elseif res == false and extra == nil then
      failed[#failed + 1] = id
      timeouts = timeouts + 1
      if style == "try_send" or style == "select_default" then gochan.sleep(0) end
    else
      error(("send style %s returned %s, %s"):format(style, tostring(res), tostring(extra)))
    end
  end
  return sent, failed, timeouts
end

-- A consumer: takes from 'ch' (or from both for select_two) with 'style'
-- until closed and drained. Returns the ids taken and the empty tries.
local function consumer (style, ch, ch1, ch2, T)
  local gochan = require "gochan"
  local got, empty = {}, 0
  local function value (v, ok, how)
    if ok == true and math.type(v) == "integer" then got[#got + 1] = v; return true end
    if ok == false and v == nil then return false end          -- closed and drained
    if ok == nil and v == nil then empty = empty + 1; return true end  -- took nothing
    error(("%s returned %s, %s"):format(how, tostring(v), tostring(ok)))
  end
  if style == "range" then
    for v in ch:range() do value(v, true, "range") end
    return got, empty
  end
  if style == "select_two" then
    local a, b = ch1, ch2
    while a or b do
      local i, v, ok = gochan.select { { "recv", a or nil }, { "recv", b or nil } }
      if not value(v, ok, "select over two channels") then
        if i == 1 then a = nil else b = nil end
      end
    end
    return got, empty
  end
  while true do
    local v, ok
    if style == "recv" then v, ok = ch:recv()
    elseif style == "recv_timeout" then v, ok = ch:recv(T)
    elseif style == "try_recv" then v, ok = ch:try_recv()
    elseif style == "select_after" then
      local i
      i, v, ok = gochan.select { { "recv", ch }, { "recv", gochan.after(T) } }
      if i == 2 then
        if ok ~= true then error("after's channel gave " .. tostring(ok)) end
        v, ok = nil, nil
      end
    elseif style == "select_default" then
      local i
      i, v, ok = gochan.select { { "recv", ch }, default = true }
      if i == nil then v, ok = nil, nil end
    elseif style == "select_handler" then
      local i, what, hv, hok = gochan.select {
        { "recv", ch, function (x, y) return "got", x, y end },
        { "recv", gochan.after(T), function () return "late" end },
      }
      if i == 1 and what == "got" then v, ok = hv, hok
      elseif i == 2 and what == "late" then v, ok = nil, nil
      else error(("select returned case %s with handler result %s"):format(i, what)) end
    else
      error("unknown receive style " .. style)
    end
    if not value(v, ok, style) then return got, empty end
    if ok == nil and (style == "try_recv" or style == "select_default") then gochan.sleep(0) end
  end
end

local function closer (ch1, ch2, flag, trigger, wait)
  local gochan = require "gochan"
  local v = trigger:recv(wait)
  if v == true and flag:cas(0, 1) then
    ch1:close()
    gochan.sleep(0)
    ch2:close()
    return true
  end
  return false
end

local total = { sent = 0, failed = 0, received = 0, rounds = 0, early = 0 }

local function round (cap, r)
  local what = ("workers=%d cap=%d send=%s"):format(WORKERS, cap, SEND_STYLES[r])
  local ch1, ch2 = gochan.chan(cap), gochan.chan(cap)
  local attempts, flag, trigger = gochan.atomic(0), gochan.atomic(0), gochan.chan(1)
  -- Close at a random attempt; past the expected count, after the producers.
  local threshold = math.random(1, math.floor(PRODUCERS * PER_PRODUCER * 1.4))
  local cons, prods = {}, {}
  for c = 1, CONSUMERS do
    local style = RECV_STYLES[(r + c - 2) % #RECV_STYLES + 1]
    cons[c] = { style = style,
                task = gochan.go(consumer, style, c % 2 == 1 and ch1 or ch2, ch1, ch2, T) }
  end
  local ct = gochan.go(closer, ch1, ch2, flag, trigger, S.WAIT)
  for p = 1, PRODUCERS do
    prods[p] = gochan.go(producer, SEND_STYLES[r], p % 2 == 1 and ch1 or ch2, ch1, ch2,
                         p * 10000000, PER_PRODUCER, T, attempts, threshold, trigger)
  end

  local state = {}          -- id -> "sent" | "failed" | "received"
  local nsent, nfailed, nrecv, ntimeouts, nempty = 0, 0, 0, 0, 0
  for p = 1, PRODUCERS do
    local sent, failed, timeouts = S.join(prods[p], what .. " producer")
    for _, id in ipairs(sent) do
      S.check(state[id] == nil, what, "id %d reported twice by producers", id)
      state[id] = "sent"
    end
    for _, id in ipairs(failed) do
      S.check(state[id] == nil, what, "id %d reported twice by producers", id)
      state[id] = "failed"
    end
    nsent, nfailed, ntimeouts = nsent + #sent, nfailed + #failed, ntimeouts + timeouts
  end
  if flag:cas(0, 1) then ch1:close(); ch2:close() end
  trigger:try_send(false)
  local early = S.join(ct, what .. " closer")
  for c = 1, CONSUMERS do
    local got, empty = S.join(cons[c].task, what .. " consumer " .. cons[c].style)
    nempty = nempty + empty
    for _, id in ipairs(got) do
      local st = state[id]
      if st == "received" then
        S.fail(what, "id %d received twice (second time by a %s consumer)", id, cons[c].style)
      elseif st == "failed" then
        S.fail(what, "id %d received by a %s consumer, but its send failed", id, cons[c].style)
      elseif st == nil then
        S.fail(what, "id %d received by a %s consumer, but never sent", id, cons[c].style)
      end
      state[id] = "received"
      nrecv = nrecv + 1
    end
  end
  for id, st in pairs(state) do
    S.check(st ~= "sent", what, "id %d was sent successfully but never received", id)
  end
  S.check(nrecv == nsent, what, "sent %d, received %d", nsent, nrecv)
  for _, ch in ipairs { ch1, ch2 } do
    local v, ok = ch:try_recv()
    S.check(v == nil and ok == false, what, "channel not closed and drained at the end")
  end
  S.ok(what, "sent %d = received %d exactly once, %d failed sends (%d timeouts) never "
       .. "received, %d empty receives, closed %s", nsent, nrecv, nfailed, ntimeouts,
       nempty, early and ("early at attempt " .. threshold) or "after the producers")
  total.sent, total.failed, total.received = total.sent + nsent, total.failed + nfailed,
                                             total.received + nrecv
  total.rounds, total.early = total.rounds + 1, total.early + (early and 1 or 0)
end

math.randomseed(tonumber(os.getenv("STRESS_SEED")) or os.time())
for _ = 1, PASSES do
  for _, cap in ipairs { 0, 1, 16 } do
    for r = 1, #SEND_STYLES do round(cap, r) end
  end
end
S.ok(("workers=%d all"):format(WORKERS),
     "%d rounds (%d closed early), %d values sent and received exactly once, %d failed sends",
     total.rounds, total.early, total.sent, total.failed)
