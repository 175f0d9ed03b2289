-- trace2html_spec.lua: tools/trace2html, which draws a trace as one HTML
-- page. Its structure is checked on a hand-written trace
-- (spec/fixtures/trace_small.json) and on a generated dense one; then the
-- trace examples/pizzeria.lua records (GOCHAN_TRACE) is drawn and opened
-- in headless Chromium: the DOM it builds has one row per task and the
-- arrows, and its screenshot (build/pizzeria-trace.png) is a real PNG.
-- Every subprocess runs under `timeout`. Without Chromium the browser part
-- is pending, except with CI=true, where that is a failure.

local cjson = require "cjson"
local helper = require "spec.helper"

local shq = helper.shq
local LUA = os.getenv("GOCHAN_SPEC_LUA") or "lua5.4"
local TOOL = "tools/trace2html"
local FIXTURE = "spec/fixtures/trace_small.json"
local BROWSER_SECONDS = 45

local function slurp (path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function exists (path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- Runs the shell command 'cmd' under `timeout` ('seconds'): its stdout,
-- its stderr and its exit status (124: timed out).
local function sh (cmd, seconds)
  local errfile = os.tmpname()
  local p = assert(io.popen(("timeout -k 5 %d sh -c %s 2>%s"):format(
    seconds or 20, shq(cmd), shq(errfile))))
  local out = p:read("a")
  local _, how, code = p:close()
  if how == "signal" then code = 128 + code end
  local err = slurp(errfile)
  os.remove(errfile)
  return out, err, code
end

local function tmpdir ()
  local out, err, code = sh("mktemp -d", 10)
  assert(code == 0, err)
  return (out:gsub("%s+$", ""))
end

local function trace2html (...)
  local args = {}
  for i, a in ipairs({ ... }) do args[i] = shq(a) end
  return sh(("%s %s %s"):format(LUA, TOOL, table.concat(args, " ")), 60)
end

-- The rows of a page: { [tid] = { label = text, body = the row's markup } }
-- and their tids in page order.
local function rows_of (html)
  local rows, order = {}, {}
  for tid, body in html:gmatch('<g class="row" data%-tid="(%d+)"[^>]*>(.-)</g>') do
    tid = tonumber(tid)
    assert(rows[tid] == nil, "two rows for tid " .. tid)
    rows[tid] = { body = body, label = body:match('<text class="label"[^>]*>([^<]*)') }
    order[#order + 1] = tid
  end
  return rows, order
end

-- The spans of a row's markup, counted by kind (running, runnable, blocked).
local function spans_of (body)
  local n = { running = 0, runnable = 0, blocked = 0 }
  for kind in body:gmatch('<rect class="span (%a+)') do
    assert(n[kind], "unknown span kind " .. kind)
    n[kind] = n[kind] + 1
  end
  return n
end

-- The hand-off arrows of a page, each { from = tid, to = tid }.
local function arrows_of (html)
  local list = {}
  for attrs in html:gmatch('<path (class="handoff"[^>]*)>') do
    list[#list + 1] = { from = tonumber(attrs:match('data%-from="(%d+)"')),
                        to = tonumber(attrs:match('data%-to="(%d+)"')),
                        marker = attrs:match('marker%-end="([^"]*)"') }
  end
  return list
end

-- Checks that nothing in the page would be fetched from anywhere.
local function assert_self_contained (html)
  assert.is_nil(html:find("https?:"), "a URL in the page")
  assert.is_nil(html:find("<script", 1, true), "a script in the page")
  assert.is_nil(html:find("<link", 1, true), "a <link> in the page")
  assert.is_nil(html:find("@import", 1, true), "an @import in the page")
  assert.is_nil(html:find("<img", 1, true), "an image in the page")
  for ref in html:gmatch("url%(([^)]*)%)") do
    assert.equal("#", ref:sub(1, 1), "url(" .. ref .. ") is not a fragment")
  end
  for ref in html:gmatch('[%s"]src="([^"]*)"') do
    error("src=" .. ref .. " in the page")
  end
end

-- Task ids and names in a trace file: { [tid] = name }, with the number of
-- hand-offs in it and of those to main (tid 0).
local function tasks_of_trace (path)
  local doc = cjson.decode(slurp(path))
  local taskpid = 2
  for _, e in ipairs(doc.traceEvents) do
    if e.ph == "M" and e.name == "process_name" and e.args.name == "gochan tasks" then
      taskpid = e.pid
    end
  end
  local tasks, handoffs, tomain = {}, 0, 0
  for _, e in ipairs(doc.traceEvents) do
    if e.pid == taskpid and e.tid then
      local tid = math.tointeger(e.tid)
      if e.ph == "M" and e.name == "thread_name" then tasks[tid] = e.args.name
      else tasks[tid] = tasks[tid] or true end
      if e.ph == "s" then handoffs = handoffs + 1 end
      if e.ph == "f" and tid == 0 then tomain = tomain + 1 end
    end
  end
  return tasks, handoffs, tomain
end

describe("tools/trace2html", function()
  local dir

  lazy_setup(function() dir = tmpdir() end)
  lazy_teardown(function()
    if dir then sh("rm -rf " .. shq(dir), 20) end
  end)

  it("is an executable Lua 5.4 script", function()
    local out = sh("stat -c %a " .. TOOL, 10)
    assert.equal("755", (out:gsub("%s+$", "")))
    assert.equal("#!/usr/bin/env lua5.4\n", slurp(TOOL):match("^[^\n]*\n"))
  end)

  describe("on a hand-written trace", function()
    local html

    lazy_setup(function()
      local out, err, code = trace2html(FIXTURE, dir .. "/small.html")
      assert(code == 0, "trace2html failed: " .. out .. err)
      html = slurp(dir .. "/small.html")
    end)

    it("draws one row per task, main first, labelled with the task's name", function()
      local rows, order = rows_of(html)
      assert.same({ 0, 1, 2 }, order)
      assert.equal("main", rows[0].label)
      assert.equal("task #1 pizzeria", rows[1].label)
      assert.equal("task #2", rows[2].label)
    end)

    it("draws each span in its kind's class", function()
      local rows = rows_of(html)
      assert.same({ running = 0, runnable = 0, blocked = 0 }, spans_of(rows[0].body))
      assert.same({ running = 3, runnable = 3, blocked = 2 }, spans_of(rows[1].body))
      assert.same({ running = 2, runnable = 2, blocked = 1 }, spans_of(rows[2].body))
    end)

    it("gives each span hover text: what it waited on, the worker, start, duration", function()
      local rows = rows_of(html)
      assert.truthy(rows[2].body:find('<rect class="span blocked"[^>]*><title>blocked: '
        .. 'recv on gochan%.chan%(cap=0%)\nstart 300%.0 µs, duration 30%.190 ms</title>'))
      -- the waiting text is escaped
      assert.truthy(rows[1].body:find("blocked: select on &lt;2 cases&gt; &amp; more", 1, true))
      assert.truthy(rows[1].body:find('<rect class="span running"[^>]*><title>running on '
        .. 'worker 2\nstart 30%.420 ms, duration 80%.0 µs</title>'))
      assert.truthy(rows[1].body:find('<path class="end done"'))
      assert.truthy(rows[2].body:find('<path class="end failed"'))
    end)

    it("draws an arrow for each hand-off pair, from the waker to the woken", function()
      local arrows = arrows_of(html)
      -- the third flow has no end: not drawn
      assert.same({ { from = 1, to = 2, marker = "url(#ah)" },
                    { from = 0, to = 1, marker = "url(#ah)" } }, arrows)
      assert.truthy(html:find('<marker id="ah"', 1, true))
      assert.truthy(html:find("hand-off: main woke task #1 pizzeria", 1, true))
    end)

    it("has a legend and a time axis with ticks", function()
      for _, k in ipairs({ "running", "runnable", "blocked" }) do
        assert.truthy(html:find('<rect class="key ' .. k .. '"', 1, true))
      end
      local ticks = {}
      for label in html:gmatch('<g class="tick">.-<text[^>]*>([^<]*)</text>') do
        ticks[#ticks + 1] = label
      end
      assert.equal("0 ms", ticks[1])
      assert.equal("40 ms", ticks[#ticks])
      assert.is_true(#ticks >= 5)
    end)

    it("loads nothing from anywhere: no URL, no script, no external file", function()
      assert_self_contained(html)
      assert.truthy(html:find("^<!DOCTYPE html>"))
      assert.truthy(html:find("<style>", 1, true))
    end)

    it("writes to stdout for '-'", function()
      local out, err, code = trace2html(FIXTURE, "-")
      assert.equal(0, code, err)
      assert.equal(html, out)
    end)
  end)

  it("merges spans narrower than a pixel: a dense trace stays small", function()
    -- two tasks handing a value back and forth 4000 times, 3 µs a slice:
    -- 12,000 spans and 4,000 hand-offs over a plot 1160 pixels wide
    local ev, t, last, cur = {}, 0, { 0, 0 }, 1
    for id = 1, 4000 do
      local a, b = cur, 3 - cur
      ev[#ev + 1] = { ph = "X", name = "running", pid = 2, tid = a, ts = t, dur = 3,
                      args = { worker = 1 } }
      ev[#ev + 1] = { ph = "X", name = "blocked", pid = 2, tid = b, ts = last[b],
                      dur = t + 2 - last[b], args = { waiting = "recv" } }
      ev[#ev + 1] = { ph = "X", name = "runnable", pid = 2, tid = b, ts = t + 2, dur = 1 }
      ev[#ev + 1] = { ph = "s", name = "handoff", id = id, pid = 2, tid = a, ts = t + 2 }
      ev[#ev + 1] = { ph = "f", bp = "e", name = "handoff", id = id, pid = 2, tid = b,
                      ts = t + 3 }
      last[a], t, cur = t + 3, t + 3, b
    end
    local path = dir .. "/dense.json"
    local f = assert(io.open(path, "wb"))
    f:write(cjson.encode({ traceEvents = ev }))
    f:close()
    local out, err, code = trace2html(path, dir .. "/dense.html")
    assert(code == 0, "trace2html failed: " .. out .. err)
    local html = slurp(dir .. "/dense.html")
    local rows, order = rows_of(html)
    assert.same({ 1, 2 }, order)
    for _, tid in ipairs(order) do
      local n = spans_of(rows[tid].body)
      local bars = n.running + n.runnable + n.blocked
      assert.is_true(bars > 100 and bars <= 1200, ("%d bars in row %d"):format(bars, tid))
    end
    assert.truthy(html:find("spans narrower than a pixel: running ", 1, true))
    local arrows = #arrows_of(html)
    assert.is_true(arrows > 100 and arrows <= 400, arrows .. " arrows")
    assert.is_true(#html < 1024 * 1024, #html .. " bytes")
  end)

  describe("on bad input", function()
    local function fails (what, expected_msg, ...)
      local out, err, code = trace2html(...)
      assert.equal(1, code, what .. ": " .. out .. err)
      assert.equal("", out)
      assert.equal("trace2html: " .. expected_msg .. "\n", err)
    end

    it("names a missing file", function()
      fails("missing", "cannot open " .. dir .. "/none.json: No such file or directory",
        dir .. "/none.json", dir .. "/none.html")
      assert.is_false(exists(dir .. "/none.html"))
    end)

    it("says a file is not JSON", function()
      local path = dir .. "/bad.json"
      local f = assert(io.open(path, "wb"))
      f:write('{"traceEvents": [')
      f:close()
      fails("not JSON", path .. ": not JSON (Expected value but found T_END at character 18)",
        path, dir .. "/bad.html")
      assert.is_false(exists(dir .. "/bad.html"))
    end)

    it("says JSON without traceEvents is not a trace", function()
      local path = dir .. "/other.json"
      local f = assert(io.open(path, "wb"))
      f:write('{"events": []}')
      f:close()
      fails("no traceEvents", path .. ": no traceEvents array (not a Chrome trace event file)",
        path, dir .. "/other.html")
    end)

    it("shows its usage without a file", function()
      fails("no file", "usage: tools/trace2html [--width=PIXELS] trace.json [out.html]")
    end)
  end)
end)

-- Chromium from Debian, or nil and why not.
local function find_chromium ()
  local out, _, code = sh("command -v chromium", 10)
  if code ~= 0 then return nil, "chromium is not installed (./dev deps installs it)" end
  return (out:gsub("%s+$", ""))
end

describe("the pizzeria's trace in Chromium", function()
  local chromium, why = find_chromium()
  local dir, trace, page

  -- Runs Chromium headless on 'page' with 'args' and a profile of its own
  -- under 'dir', to its end (`timeout` stops it and its children at worst);
  -- checks no process of it is left. Its stdout, stderr and exit status.
  -- Not under a sanitizer's runtime (./dev asan and tsan preload one).
  local function browse (args)
    local profile = dir .. "/profile"
    local out, err, code = sh(("env -u LD_PRELOAD %s --headless --no-sandbox --disable-gpu "
      .. "--disable-background-networking --no-first-run --user-data-dir=%s %s %s")
      :format(shq(chromium), shq(profile), args, shq("file://" .. page)), BROWSER_SECONDS)
    -- every process of this run had the profile on its command line (the
    -- pattern's "[-]" keeps it from matching pgrep's own shell); pgrep
    -- exits 1 when it finds none
    local left
    for _ = 1, 50 do
      local pids, perr, pcode = sh("env -u LD_PRELOAD pgrep -f -- "
        .. shq("[-]-user-data-dir=" .. profile), 10)
      if pcode == 1 then left = nil; break end
      assert(pcode == 0, "pgrep failed: " .. perr)
      left = pids
      sh("sleep 0.1", 5)
    end
    if left then
      sh("kill " .. left:gsub("%s+", " "), 10)
      error("chromium processes left running: " .. left)
    end
    sh("rm -rf " .. shq(profile), 20)
    return out, err, code
  end

  lazy_setup(function()
    if not chromium then return end
    dir = tmpdir()
    trace, page = dir .. "/pizzeria.json", dir .. "/pizzeria.html"
    local out, err, code = sh(("LUA_PATH=%s LUA_CPATH=%s GOCHAN_TRACE=%s "
      .. "GOCHAN_DELAY_SCALE=0.01 NO_COLOR=1 %s examples/pizzeria.lua"):format(
      shq(package.path), shq(package.cpath), shq(trace), LUA), 60)
    assert(code == 0, "pizzeria failed: " .. out .. err)
    assert(exists(trace), "GOCHAN_TRACE did not write " .. trace)
    out, err, code = trace2html(trace, page)
    assert(code == 0, "trace2html failed: " .. out .. err)
  end)
  lazy_teardown(function()
    if dir then sh("rm -rf " .. shq(dir), 20) end
  end)

  local function need_chromium ()
    if chromium then return true end
    if os.getenv("CI") == "true" then error(why .. "; CI=true: a failure, not a skip") end
    pending(why)
    return false
  end

  it("shows one row per task of the trace, and the hand-off arrows", function()
    if not need_chromium() then return end
    local tasks, handoffs, tomain = tasks_of_trace(trace)
    assert.is_true(handoffs > 0, "the trace has no hand-off")
    -- the shop hands each of its ten orders to main, waiting in its range
    assert.is_true(tomain >= 10, tomain .. " hand-offs to main")
    local source = slurp(page)
    assert_self_contained(source)
    local dom, err, code = browse("--dump-dom")
    assert.equal(0, code, "chromium failed: " .. err)
    local rows = rows_of(dom)
    local expected, got = {}, {}
    for tid, name in pairs(tasks) do
      expected[tid] = type(name) == "string" and name or (tid == 0 and "main" or "task #" .. tid)
    end
    for tid, row in pairs(rows) do got[tid] = row.label end
    assert.same(expected, got)
    -- the pizzeria task ran, blocked and was woken
    local shop
    for tid, row in pairs(rows) do
      if tid ~= 0 then shop = row end
    end
    local n = spans_of(shop.body)
    assert.is_true(n.running > 0 and n.blocked > 0 and n.runnable > 0)
    -- main's row: its waits, and no running span (gochan does not run it)
    n = spans_of(rows[0].body)
    assert.is_true(n.blocked > 0 and n.running == 0)
    local arrows = arrows_of(dom)
    assert.equal(#arrows_of(source), #arrows)
    local intomain = 0
    for _, a in ipairs(arrows) do
      if a.to == 0 then intomain = intomain + 1 end
    end
    assert.is_true(intomain > 0, "no arrow into main's row")
    for _, a in ipairs(arrows) do
      assert.truthy(rows[a.from], "an arrow from no row")
      assert.truthy(rows[a.to], "an arrow to no row")
    end
  end)

  it("renders a screenshot: a real PNG of the window's size", function()
    if not need_chromium() then return end
    local root = sh("pwd", 5):gsub("%s+$", "")
    local png = root .. "/build/pizzeria-trace.png"
    sh("mkdir -p build && rm -f build/pizzeria-trace.png", 10)
    local _, err, code = browse(("--screenshot=%s --window-size=1400,600"):format(shq(png)))
    assert.equal(0, code, "chromium failed: " .. err)
    local bytes = slurp(png)
    assert.equal("\137PNG\r\n\26\n", bytes:sub(1, 8))
    assert.equal("IHDR", bytes:sub(13, 16))
    local width, height = string.unpack(">I4>I4", bytes, 17)
    assert.equal(1400, width)
    assert.equal(600, height)
    -- a blank page of that size is about 4 KB
    assert.is_true(#bytes > 10000, #bytes .. " bytes")
  end)
end)
