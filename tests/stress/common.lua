-- tests/stress/common.lua: what every stress script shares: the size knob,
-- the worker count, the one way to report a check and to fail.
--
-- Each script is run as its own process by tools/stress (the worker count
-- is fixed once the first task starts), with the module on LUA_PATH /
-- LUA_CPATH. A failed check prints "FAIL <what>: <why>" and exits 1.

local gochan = require "gochan"

local M = {}

-- STRESS_SCALE multiplies every count (1 is `./dev stress`'s size).
M.SCALE = tonumber(os.getenv("STRESS_SCALE")) or 1
assert(M.SCALE > 0, "STRESS_SCALE must be a positive number")

-- Longest a join or any other blocking call of a check may wait before the
-- check counts as hung.
M.WAIT = tonumber(os.getenv("STRESS_WAIT")) or 60

-- 'n' scaled, at least 'min' (default 1).
function M.scaled (n, min)
  return math.max(min or 1, math.floor(n * M.SCALE + 0.5))
end

-- Sets the worker count from arg[1] (before any task starts); returns it.
function M.workers ()
  local w = tonumber(arg and arg[1]) or tonumber(os.getenv("GOCHAN_WORKERS"))
  if w then gochan.config { workers = math.floor(w) } end
  return gochan.config().workers
end

local NAME = (arg and arg[0] or "stress"):match("([^/]+)%.lua$") or "stress"

-- Fails the run: the message, the live tasks, exit status 1.
function M.fail (what, fmt, ...)
  io.stdout:flush()
  local lines = {}
  for _, t in ipairs(gochan.tasks()) do
    if #lines < 20 then
      lines[#lines + 1] = ("    task #%d %s %s"):format(t.id, t.status, t.waiting or "")
    end
  end
  io.stderr:write(("FAIL %s %s: %s\n"):format(NAME, what, fmt:format(...)))
  if #lines > 0 then
    io.stderr:write("  live tasks (first 20):\n", table.concat(lines, "\n"), "\n")
  end
  io.stderr:flush()
  os.exit(1, false)  -- not closing the state: tasks may be hung
end

function M.check (cond, what, fmt, ...)
  if not cond then M.fail(what, fmt, ...) end
end

-- Prints one verified check: "ok <script> <what>: <details>".
function M.ok (what, fmt, ...)
  gochan.print(("ok   %s %s: %s"):format(NAME, what, fmt:format(...)))
end

-- join with M.WAIT: the task's results, or a failure naming 'what'.
function M.join (t, what)
  local r = table.pack(t:join(M.WAIT))
  if r[1] == nil then M.fail(what, "task %s did not end within %g s", tostring(t), M.WAIT) end
  if r[1] == false then M.fail(what, "task failed: %s", tostring(r[2])) end
  return table.unpack(r, 2, r.n)
end

return M
