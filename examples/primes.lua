-- primes.lua: the concurrent prime sieve from the Go tour. A generator
-- task sends 2, 3, 4, ...; every prime found adds a filter task to the
-- chain that drops its multiples. Prints the first 20 primes.
-- Run: `./dev example primes`.
local gochan = require "gochan"

local function generate(ch)
  local n = 2
  while true do ch:send(n); n = n + 1 end
end

-- Copies values from 'input' to 'output', dropping multiples of 'prime'.
local function filter(input, output, prime)
  while true do
    local n = input:recv()
    if n % prime ~= 0 then output:send(n) end
  end
end

local ch = gochan.chan()
gochan.go(generate, ch)
local primes = {}
for _ = 1, 20 do
  local prime = ch:recv()
  primes[#primes + 1] = prime
  local out = gochan.chan()
  gochan.go(filter, ch, out, prime)
  ch = out
end
print(table.concat(primes, " "))
-- The generator and filters are still blocked in send; like Go's main,
-- the script ends without waiting for them.
