-- crawler.lua: a bounded-parallelism crawler over a fake in-memory web
-- (Go's web-crawler exercise). Pages are fetched by the tasks of a group
-- limited to 3 at once; the main state keeps the set of pages seen (one
-- owner: no lock) and starts a fetch for each new link, until nothing is in
-- flight. The whole crawl runs under one context with a deadline, which
-- the group's context inherits: a fetch gives up when it is done.
-- Run: `./dev example crawler`.
local gochan = require "gochan"

local SCALE = tonumber(os.getenv("GOCHAN_DELAY_SCALE")) or 1

-- The fake web: url -> { title, links }. Missing pages are "not found".
local WEB = {
  ["https://golang.org/"] = { "The Go Programming Language",
    { "https://golang.org/pkg/", "https://golang.org/cmd/" } },
  ["https://golang.org/pkg/"] = { "Packages",
    { "https://golang.org/", "https://golang.org/cmd/",
      "https://golang.org/pkg/fmt/", "https://golang.org/pkg/os/" } },
  ["https://golang.org/pkg/fmt/"] = { "Package fmt",
    { "https://golang.org/", "https://golang.org/pkg/" } },
  ["https://golang.org/pkg/os/"] = { "Package os",
    { "https://golang.org/", "https://golang.org/pkg/", "https://golang.org/pkg/os/exec/" } },
  ["https://golang.org/pkg/os/exec/"] = { "Package exec",
    { "https://golang.org/pkg/os/", "https://golang.org/pkg/context/" } },
  ["https://golang.org/pkg/context/"] = { "Package context",
    { "https://golang.org/pkg/", "https://golang.org/blog/" } },
}

-- Fetches 'url' from the fake web: takes 20 ms (scaled) unless 'ctx' is
-- done first. Returns the page, or nil and why.
local function fetch(ctx, web, url)
  if not gochan.sleep(0.02 * SCALE, ctx) then return nil, ctx:err() end
  local page = web[url]
  if not page then return nil, "not found" end
  return page
end

local ctx, cancel = gochan.with_timeout(10)
local g, gctx = gochan.group(ctx)
g:limit(3)
local found = gochan.chan(64)               -- { url, title, links } or { url, err }
local running, most = gochan.atomic(0), gochan.atomic(0)

local seen, pending, pages, missing = {}, 0, {}, {}
local function crawl(url)
  if seen[url] then return end
  seen[url] = true
  pending = pending + 1
  assert(g:go(function(c, web, u, out, run, top)
    local now = run:add(1)                  -- fetches in flight, at most 3
    while true do
      local m = top:get()
      if now <= m or top:cas(m, now) then break end
    end
    local page, err = fetch(c, web, u)
    run:add(-1)
    out:send(page and { u, page[1], page[2] } or { u, err = err })
  end, gctx, WEB, url, found, running, most))
end

crawl("https://golang.org/")
while pending > 0 do
  local r = found:recv(ctx)
  if not r then break end                   -- the deadline passed
  pending = pending - 1
  if r.err then missing[#missing + 1] = r[1] .. " (" .. r.err .. ")"
  else
    pages[#pages + 1] = r[1] .. "  " .. r[2]
    for _, link in ipairs(r[3]) do crawl(link) end
  end
end
assert(g:wait(5))
cancel()
table.sort(pages)
table.sort(missing)
for _, p in ipairs(pages) do print("found   " .. p) end
for _, m in ipairs(missing) do print("missing " .. m) end
print(("%d pages, %d missing, at most %d fetches at once (limit 3)")
  :format(#pages, #missing, most:get()))
