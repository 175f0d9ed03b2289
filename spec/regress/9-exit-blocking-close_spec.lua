-- At exit (the main state closes while tasks are live) the tasks are
-- dropped and their states closed: their to-be-closed variables and
-- finalizers may run then, and a blocking call made there fails at once
-- with "gochan runtime is shutting down" (docs/api.md, Exit), as does one
-- in which a task was blocking its worker (a nested coroutine) when exit
-- began. So exit is prompt: it never waits for such a call, nor for
-- shutdown's give-up (2 s). Each scenario runs in a subprocess under
-- `timeout`, timed from here.

local gochan = require "gochan"

local LUA = os.getenv("GOCHAN_SPEC_LUA") or "lua5.4"
local LIMIT = 1.5          -- seconds; shutdown gives up after 2

local function q (s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- The main script of every scenario: 'task' is the source of a function
-- run as a task; the main state waits (polling gochan.tasks(), at most
-- 5 s) until that task is blocked, says so, and ends.
local MAIN = [[
local gochan = require "gochan"
gochan.go(load(%q))
local deadline = gochan.now() + 5
repeat
  local blocked = false
  for _, t in ipairs(gochan.tasks()) do
    if t.status == "blocked" then blocked = true end
  end
  if not blocked then
    assert(gochan.now() < deadline, "the task never blocked")
    gochan.sleep(0.001)
  end
until blocked
print("main done")
]]

-- Runs the scenario under `timeout 20`: output, exit status, seconds.
local function run (task)
  local src = MAIN:format(task)
  local cmd = ("LUA_PATH=%s LUA_CPATH=%s timeout 20 %s -e %s 2>&1"):format(
    q(package.path), q(package.cpath), LUA, q(src))
  local t0 = gochan.now()
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local _, how, code = p:close()
  if how == "signal" then code = 128 + code end
  return out, code, gochan.now() - t0
end

local function check (task, expected)
  local out, code, dt = run(task)
  local took = dt < LIMIT and "prompt" or ("%.3f s"):format(dt)
  assert.same({ expected, 0, "prompt" }, { out, code, took })
end

local SHUTDOWN = "gochan runtime is shutting down"

describe("exit with a task whose __close blocks", function()
  it("fails the sleep in __close at once", function()
    check([[
      local gochan = require "gochan"
      local x <close> = setmetatable({}, { __close = function()
        print("close", pcall(gochan.sleep, 10))
      end })
      gochan.chan():recv()
    ]], "main done\nclose\tfalse\t" .. SHUTDOWN .. "\n")
  end)

  it("fails the recv on a fresh channel in __close at once", function()
    check([[
      local gochan = require "gochan"
      local x <close> = setmetatable({}, { __close = function()
        local ch = gochan.chan()
        print("close", pcall(ch.recv, ch))
      end })
      gochan.sleep(30)
    ]], "main done\nclose\tfalse\t" .. SHUTDOWN .. "\n")
  end)

  it("fails every kind of blocking call in __close at once", function()
    check([[
      local gochan = require "gochan"
      local x <close> = setmetatable({}, { __close = function()
        local ch, wg, mu = gochan.chan(), gochan.waitgroup(), gochan.mutex()
        wg:add(1)
        local _ = mu:lock()
        local calls = {
          function() return ch:send(1) end,
          function() return ch:recv(10) end,
          function() for _ in ch:range() do end end,
          function() return gochan.select({ { "recv", ch } }) end,
          function() return wg:wait() end,
          function() return mu:lock() end,
          function() return gochan.sleep(10) end,
        }
        local errs = {}
        for i, f in ipairs(calls) do
          local ok, err = pcall(f)
          -- (a wrapper's position stripped)
          errs[i] = ok and "returned" or err:gsub("^.-:%d+: ", "")
        end
        print("close", table.concat(errs, "|"))
      end })
      gochan.chan():recv()
    ]], "main done\nclose\t" .. (SHUTDOWN .. "|"):rep(6) .. SHUTDOWN .. "\n")
  end)
end)

describe("exit with a task whose finalizer blocks", function()
  it("fails the sleep and the recv in __gc at once", function()
    check([[
      local gochan = require "gochan"
      local g = setmetatable({}, { __gc = function()
        print("gc", pcall(gochan.sleep, 10))
        local ch = gochan.chan()
        print("gc", pcall(ch.recv, ch))
      end })
      gochan.chan():recv()
      return g
    ]], ("main done\ngc\tfalse\t%s\ngc\tfalse\t%s\n"):format(SHUTDOWN, SHUTDOWN))
  end)
end)

describe("exit with a task that blocks its worker", function()
  it("fails its recv (in a nested coroutine) at once", function()
    check([[
      local gochan = require "gochan"
      local ch = gochan.chan()
      -- printed in the nested coroutine: the task itself may be dropped
      -- at its next preemption point once its call returned
      coroutine.wrap(function() print("wrap", pcall(ch.recv, ch)) end)()
    ]], "main done\nwrap\tfalse\t" .. SHUTDOWN .. "\n")
  end)
end)
