-- examples_spec.lua: every program in examples/ runs in a subprocess (under
-- `timeout`, so a hang fails instead of stalling the suite) and its output
-- is checked line by line; and the README's interactive session runs in a
-- pseudo-terminal through script(1).

local LUA = os.getenv("LUA") or "lua5.4"
local TIMEOUT = 60

local function q(s) return "'" .. s:gsub("'", [['\'']]) .. "'" end

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- Runs `cmd` through the shell with the module paths busted uses (so an ASan
-- run tests the ASan build) and 'env' (name -> value, or false to unset).
-- Returns stdout, stderr and the exit code (124: killed by timeout).
local function sh(cmd, env)
  local exports = { "LUA_PATH=" .. q(package.path), "LUA_CPATH=" .. q(package.cpath) }
  for k, v in pairs(env or {}) do
    if v then exports[#exports + 1] = k .. "=" .. q(v) end
  end
  local errfile = os.tmpname()
  local p = assert(io.popen(("unset NO_COLOR; export %s; { %s; } 2>%s")
    :format(table.concat(exports, " "), cmd, q(errfile))))
  local out = p:read("a")
  local _, _, code = p:close()
  local err = slurp(errfile)
  os.remove(errfile)
  return out, err, code
end

local function run_example(name, env)
  env = env or {}
  env.NO_COLOR = env.NO_COLOR == nil and "1" or env.NO_COLOR
  env.GOCHAN_DELAY_SCALE = env.GOCHAN_DELAY_SCALE or "0.01"
  return sh(("timeout %d %s examples/%s.lua"):format(TIMEOUT, LUA, name), env)
end

local function lines(s)
  local t = {}
  for l in s:gmatch("([^\n]*)\n") do t[#t + 1] = l end
  return t
end

-- How many lines of 'ls' match the Lua pattern 'pat' (anchored).
local function count(ls, pat)
  local n = 0
  for _, l in ipairs(ls) do
    if l:find("^" .. pat .. "$") then n = n + 1 end
  end
  return n
end

-- Runs an example that must succeed quietly; returns its stdout lines.
local function ok_run(name, env)
  local out, err, code = run_example(name, env)
  assert.are.equal("", err)
  assert.are.equal(0, code)
  return lines(out), out
end

describe("examples/waitgroup.lua", function()
  it("processes every value once, survives a failing item, ends with Done", function()
    local ls = ok_run("waitgroup")
    for i = 0, 9 do
      assert.are.equal(1, count(ls, "process " .. i * 2 * 1000))
    end
    assert.are.equal(10, count(ls, "process %d+"))
    assert.are.equal(1, count(ls, "failed: cannot store result 6000 %(still counted down%)"))
    -- The ### line comes after every value, Done is the last line.
    assert.are.equal("Done", ls[#ls])
    assert.are.equal(("#"):rep(19), ls[#ls - 1])
    assert.are.equal(13, #ls)
  end)
end)

describe("examples/pizzeria.lua", function()
  it("reports every order once, and the summary adds up", function()
    local ls, out = ok_run("pizzeria")
    assert.is_nil(out:find("\27", 1, true), "colour codes with NO_COLOR set")
    assert.are.equal("The Pizzeria is open for business!", ls[1])
    local made, failed = 0, 0
    for n = 1, 10 do
      assert.are.equal(1, count(ls, "Received order #" .. n .. "!"))
      assert.are.equal(1,
        count(ls, "Making pizza #" .. n .. "%. It will take [1-5] seconds%.%.%.%."))
      local ready = count(ls, "Pizza order #" .. n .. " is ready!")
      local bad = count(ls, "%*%*%* We ran out of ingredients for pizza #" .. n .. "!")
                + count(ls, "%*%*%* The cook quit while making pizza #" .. n .. "!")
      assert.are.equal(1, ready + bad, "order #" .. n .. " has one outcome")
      assert.are.equal(ready, count(ls, "Order #" .. n .. " is out for delivery!"))
      made, failed = made + ready, failed + bad
    end
    assert.are.equal(made, count(ls, "Order #%d+ is out for delivery!"))
    assert.are.equal(failed, count(ls, "The customer is really mad!"))
    assert.are.equal(1, count(ls, "Done making pizzas%.%.%."))
    local m, f, t = out:match(
      "We made (%d+) pizzas, but failed to make (%d+), with (%d+) attempts in total%.")
    assert.are.same({ made, failed, 10 }, { tonumber(m), tonumber(f), tonumber(t) })
    assert.are.equal(10, made + failed)
  end)

  local has_script = os.execute("command -v script >/dev/null 2>&1")
  it("colours its output on a terminal unless NO_COLOR is set", function()
    if not has_script then pending("script(1) not installed") return end
    local cmd = ("timeout %d script -qec %s /dev/null </dev/null")
      :format(TIMEOUT, q("exec " .. LUA .. " examples/pizzeria.lua"))
    local out = sh(cmd, { GOCHAN_DELAY_SCALE = "0.001" })
    assert.truthy(out:find("\27[36mThe Pizzeria is open for business!\27[0m", 1, true))
    assert.truthy(out:find("\27%[3[12]m[^\27]*#%d+[^\27]*\27%[0m"))
    out = sh(cmd, { GOCHAN_DELAY_SCALE = "0.001", NO_COLOR = "1" })
    assert.truthy(out:find("The Pizzeria is open for business!", 1, true))
    assert.is_nil(out:find("\27[3", 1, true))
  end)
end)

describe("examples/workerpool.lua", function()
  it("gets one result per job from the pool", function()
    local ls = ok_run("workerpool")
    for j = 1, 9 do
      assert.are.equal(1, count(ls, ("worker [123]: job %d %%-> %d"):format(j, j * j)))
    end
    assert.are.equal("9 results, sum of squares 285", ls[#ls])
    assert.are.equal(10, #ls)
  end)
end)

describe("examples/pipeline.lua", function()
  it("squares in order through the stages", function()
    assert.are.same({ "square\t1", "square\t4", "square\t9", "square\t16",
      "square\t25", "sum of fourth powers of 1..3:\t98" }, (ok_run("pipeline")))
  end)
end)

describe("examples/fanin.lua", function()
  it("merges every value from the fanned-out squarers", function()
    local ls = ok_run("fanin")
    assert.are.equal("20 squares, sum 2870", ls[1])
    local total = 0
    for i, name in ipairs { "A", "B", "C" } do
      local n = ls[i + 1]:match("^squarer " .. name .. " did (%d+)$")
      assert.truthy(n, ls[i + 1])
      total = total + tonumber(n)
    end
    assert.are.equal(20, total)
  end)
end)

describe("examples/timeout.lua", function()
  it("times out the slow reply, gets the fast one, cancels the worker", function()
    local ls = ok_run("timeout")
    assert.are.equal("timed out after 0.05 s", ls[1])
    assert.are.equal("got answer", ls[2])
    assert.truthy(ls[3]:find("^worker cancelled after %a+ steps$"), ls[3])
    assert.are.equal("status:\tdone", ls[4])
    assert.are.equal(4, #ls)
  end)
end)

describe("examples/ratelimit.lua", function()
  it("serves one request per tick, and a burst of three at once", function()
    local ls = ok_run("ratelimit")
    assert.are.equal(10, #ls)
    for r = 1, 5 do
      local t = tonumber(ls[r]:match("^request " .. r .. " at %+(%d+) ms$"))
      assert.truthy(t, ls[r])
      assert.is_true(t >= 50 * r - 1, ls[r] .. " came early")
    end
    for r = 1, 5 do
      local t = tonumber(ls[5 + r]:match("^bursty request " .. r .. " at %+(%d+) ms$"))
      assert.truthy(t, ls[5 + r])
      if r > 3 then assert.is_true(t >= 50 * (r - 3) - 1, ls[5 + r] .. " came early") end
    end
  end)
end)

describe("examples/primes.lua", function()
  it("prints the first 20 primes and exits with tasks still blocked", function()
    assert.are.same({ "2 3 5 7 11 13 17 19 23 29 31 37 41 43 47 53 59 61 67 71" },
      (ok_run("primes")))
  end)
end)

describe("examples/counter.lua", function()
  it("counts exactly with a mutex, with add and with cas", function()
    assert.are.same({ "mutex   8000 (expected 8000)", "atomic  8000 (expected 8000)",
      "cas     8000 (expected 8000)" }, (ok_run("counter")))
  end)
end)

describe("examples/hello.lua", function()
  it("runs to the end", function()
    local ls = ok_run("hello")
    assert.are.equal("ticker stopped; done", ls[#ls])
  end)
end)

describe("examples/search.lua", function()
  it("gets one answer or a timeout per kind, within the query's deadline", function()
    local ls = ok_run("search")
    assert.are.equal(4, #ls)
    for i, kind in ipairs({ "web", "image", "video" }) do
      local ok = ls[i]:find("^" .. kind .. " +timed out$")
        or ls[i]:find("^" .. kind .. " +" .. kind .. ' result for "golang" from '
                      .. kind .. "[12] %(%d+ ms%)$")
      assert.truthy(ok, ls[i])
    end
    local took, canceled = ls[4]:match("^query took (%d+) ms %(deadline 80 ms%); replicas canceled: (%d)$")
    assert.truthy(took, ls[4])
    assert.is_true(tonumber(canceled) >= 3, ls[4])   -- every loser at least
  end)
end)

describe("examples/crawler.lua", function()
  it("finds every page of the fake web once, at most 3 fetches at once", function()
    local ls = ok_run("crawler")
    assert.are.same({
      "found   https://golang.org/  The Go Programming Language",
      "found   https://golang.org/pkg/  Packages",
      "found   https://golang.org/pkg/context/  Package context",
      "found   https://golang.org/pkg/fmt/  Package fmt",
      "found   https://golang.org/pkg/os/  Package os",
      "found   https://golang.org/pkg/os/exec/  Package exec",
      "missing https://golang.org/blog/ (not found)",
      "missing https://golang.org/cmd/ (not found)",
    }, { table.unpack(ls, 1, 8) })
    local most = tonumber(ls[9]:match("^6 pages, 2 missing, at most (%d) fetches at once %(limit 3%)$"))
    assert.truthy(most, ls[9])
    assert.is_true(most >= 1 and most <= 3, ls[9])
    assert.are.equal(9, #ls)
  end)
end)

describe("examples/shutdown.lua", function()
  local function check(ls)
    assert.are.equal("serving; press Ctrl-C to stop", ls[1])
    assert.are.equal(3, count(ls, "worker [123] stopped %(context canceled%)"))
    assert.truthy(ls[#ls]:find("^stopped cleanly after %a+ jobs$"), ls[#ls])
  end

  it("stops every worker through the root context (shut down by a task)", function()
    local out, err, code = sh(("timeout %d %s examples/shutdown.lua 0.2"):format(TIMEOUT, LUA))
    assert.are.equal("", err)
    assert.are.equal(0, code)
    check(lines(out))
  end)

  it("stops cleanly on Ctrl-C (SIGINT while main waits)", function()
    -- The inner shell execs the interpreter, so its $$ is the interpreter's
    -- pid; a watcher sends SIGINT once the example has said it is serving
    -- (polled: before that, SIGINT still has its default action, as in any
    -- program that is starting up), or gives up after TIMEOUT s.
    local outfile = os.tmpname()
    local inner = ("( i=0; until grep -q '^serving' %s || [ $i -ge %d ]; do sleep 0.05; i=$((i+1)); done; "
      .. "kill -INT $$ ) & exec %s examples/shutdown.lua >%s"):format(q(outfile), TIMEOUT * 20, LUA, q(outfile))
    local out, err, code = sh(("timeout %d sh -c %s; code=$?; cat %s; exit $code")
      :format(TIMEOUT, q(inner), q(outfile)))
    os.remove(outfile)
    assert.are.equal("", err)
    assert.are.equal(0, code)
    local ls = lines(out)
    check(ls)
    assert.are.equal(1, count(ls, "interrupted: shutting down"))
  end)
end)

-- The README's interactive session, typed into `lua5.4 -i -l gochan` on a
-- pseudo-terminal. Each blocking line must have started before the next
-- input (^C must reach a blocked call, not the prompt); nothing is timed,
-- every wait is polled: the session itself waits until its task is blocked;
-- the line before ^C writes the interpreter's pid, and the typist waits
-- until that thread sleeps (/proc), then until the session's typescript
-- (script -f: written as it goes) shows the interrupt.
describe("the interactive interpreter", function()
  it("runs tasks, shows them, raises on deadlock, and survives Ctrl-C", function()
    if not os.execute("command -v script >/dev/null 2>&1") then
      pending("script(1) not installed") return
    end
    local pidfile, typescript = os.tmpname(), os.tmpname()
    local function wait_until (cond)       -- polled, TIMEOUT s at most
      return ("n=0; until %s || [ $n -ge %d ]; do sleep 0.01; n=$((n+1)); done")
        :format(cond, TIMEOUT * 100)
    end
    local input = table.concat({
      [[printf '%s\n' 'ch = gochan.chan()' 't = gochan.go(function(c) return c:recv() end, ch)']],
      [[printf '%s\n' 'repeat gochan.sleep(0.001) until gochan.tasks()[1].status == "blocked"']],
      [[printf '%s\n' 'for _, x in ipairs(gochan.tasks()) do']],
      [[printf '%s\n' '  print(x.id, x.status, x.waiting) end']],
      [[printf '%s\n' 'ch:send("hi")' 't:join(1)' 'ch:recv()']],
      ([[printf '%%s\n' 'sleeper = gochan.go(gochan.sleep, 60)' ]]
        .. [['io.open("%s", "w"):write(io.open("/proc/self/stat"):read("n")):close() ch:recv()']])
        :format(pidfile),
      wait_until("[ -s " .. q(pidfile) .. " ]"),
      "pid=$(cat " .. q(pidfile) .. ")",
      wait_until([=[[ "$(sed 's/.*) \([A-Z]\).*/\1/' /proc/$pid/task/$pid/stat)" != R ]]=]),
      [[printf '\003']],
      wait_until("grep -q interrupted " .. q(typescript)),
      [[printf '%s\n' 'print("still here", ch:try_send(1))' 'os.exit(0)']],
    }, "; ")
    -- `exec`: script(1) runs the command through $SHELL -c, and a shell
    -- left waiting in the terminal's foreground group dies of the ^C that
    -- the interpreter catches (exit 130), unless SIGINT was ignored already.
    local out, _, code = sh(("(%s) | timeout %d script -qfec %s %s")
      :format(input, TIMEOUT, q("exec " .. LUA .. " -i -l gochan"), q(typescript)))
    os.remove(pidfile)
    os.remove(typescript)
    out = out:gsub("\r", ""):gsub("\27%[%?2004[hl]", "")
    assert.are.equal(0, code)
    assert.truthy(out:find("\n1\tblocked\trecv on gochan.chan\n", 1, true), out)
    assert.truthy(out:find("\ntrue\thi\ttrue\n", 1, true), out)
    assert.truthy(out:find("stdin:1: all tasks are asleep - deadlock!\n", 1, true), out)
    assert.truthy(out:find("stdin:1: interrupted\n", 1, true), out)
    assert.truthy(out:find("\nstill here\tfalse\n", 1, true), out)
  end)
end)

describe("docs/api.md", function()
  it("has an entry for every name gochan registers (tools/doccheck.lua)", function()
    local out, err, code = sh(LUA .. " tools/doccheck.lua docs/api.md")
    assert.are.equal("", err)
    assert.are.equal(0, code)
    assert.truthy(out:find("^doccheck: docs/api.md documents all %d+ registered names\n$"), out)
  end)
end)
