-- search.lua: the "Google Search" pattern from Go's concurrency talks.
-- A query goes to three kinds of back end (web, image, video), each
-- replicated twice; the first replica to answer wins, the loser is
-- canceled, and the whole query has a deadline: a kind that has not
-- answered by then is reported as timed out. Contexts carry both: one for
-- the query (with_timeout), one child per kind that is canceled as soon as
-- it has its answer.
-- Run: `./dev example search`.
local gochan = require "gochan"

local DEADLINE = 0.08                       -- the whole query, in seconds

-- A fake back end: answers after a random time, unless its context is
-- done first. Returns the answer, or nil and why it stopped.
local function backend(ctx, kind, replica, query, canceled)
  local took = math.random() * 0.1          -- 0 to 100 ms: some miss 80 ms
  if not gochan.sleep(took, ctx) then       -- cut short: nil, err
    canceled:add(1)
    return nil, ctx:err()
  end
  return ("%s result for %q from %s%d (%.0f ms)"):format(kind, query, kind, replica, took * 1000)
end

-- The first answer of 'n' replicas, or nil once 'ctx' is done. The losers
-- are canceled through a child context before it returns.
local function first(ctx, kind, n, query, canceled)
  local child = gochan.with_cancel(ctx)
  local answers = gochan.chan(n)            -- buffered: a late answer never blocks
  local tasks = {}
  for r = 1, n do
    tasks[r] = gochan.go(function(c, a)
      local answer = backend(c, kind, r, query, canceled)
      if answer then a:send(answer) end
    end, child, answers)
  end
  local answer = answers:recv(ctx)          -- nil, nil, err once ctx is done
  child:cancel()                            -- stop the replicas still at work
  for _, t in ipairs(tasks) do assert(t:join(5)) end
  return answer
end

local function search(query)
  local t0 = gochan.now()
  local ctx, cancel = gochan.with_timeout(DEADLINE)
  local results, kinds = gochan.chan(3), { "web", "image", "video" }
  local canceled = gochan.atomic(0)
  local g = gochan.waitgroup()
  for _, kind in ipairs(kinds) do
    g:go(function(k)
      results:send({ kind = k, answer = first(ctx, k, 2, query, canceled) })
    end, kind)
  end
  assert(g:wait(5))
  cancel()
  local byKind = {}
  for _ = 1, #kinds do
    local r = results:recv(1)
    byKind[r.kind] = r.answer
  end
  for _, kind in ipairs(kinds) do
    print(("%-5s %s"):format(kind, byKind[kind] or "timed out"))
  end
  print(("query took %.0f ms (deadline %.0f ms); replicas canceled: %d")
    :format((gochan.now() - t0) * 1000, DEADLINE * 1000, canceled:get()))
end

math.randomseed(tonumber(os.getenv("SEARCH_SEED")) or os.time())
search("golang")
