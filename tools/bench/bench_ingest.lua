-- wrk script for tools/bench/bench_ingest.sh: POST PATH with JSON arrays of BATCH events, every event new.
--
--   wrk -t2 -c32 -d20s --latency -s tools/bench/bench_ingest.lua http://127.0.0.1:P -- NONCE BATCH TOKEN [PATH]
--
-- NONCE: a string unique to this wrk run (the script gives the warm-up and the measured run their own),
-- so that every event's external_id, NONCE-t<thread>-<counter>, is new across the whole benchmark and
-- the server really inserts it instead of counting a repeat as unchanged. BATCH: events per request.
-- TOKEN: a bearer token with the ingest (or admin) role. PATH: default /v1/events.
--
-- Events: kind mostly arrest (1 in 10 diversion_referral, 1 in 10 social_contact_referral), occurred_on
-- by DATES: 2015-01-01..2021-12-28 (history) or the 30 days up to a day (recent), a point within ±0.03° of downtown Portland (-122.68, 45.52), offense PCS,
-- source bench-ingest. The points come from a Park-Miller generator seeded per thread and nonce; the
-- JSON is built with table.concat into one reused table of pieces.
--
-- response() counts answers by status; done() sums the threads and prints:
--   WRKJSON {...}   requests, duration, socket errors, latency percentiles (µs), the 201 count, the
--                   other statuses, the inserted/updated/unchanged totals from the 201 bodies, and a
--                   sample error body (status and the first 500 bytes) if any answer was not 201
--   WRKKV k=v ...   the same counts as plain key=value words, for the shell

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

-- Per-thread state (each thread has its own Lua state). The counters are globals so that done() can
-- read them with thread:get().
ok = 0            -- 201 answers
other = 0         -- answers with any other status
statuses = {}     -- status -> count, other than 201
inserted = 0      -- sums of the 201 answers' counts
updated = 0
unchanged = 0
sample_error = "" -- the first non-201 answer: "STATUS body..."

local batch, idprefix, counter, seed
local headers, path
local heads, nheads
local pieces = {}

local function prng()
  -- Park-Miller "minimal standard": exact in doubles (16807 * 2^31 < 2^53).
  seed = seed * 16807 % 2147483647
  return seed
end

function init(args)
  local nonce = assert(args[1], "usage: -- NONCE BATCH TOKEN [PATH] [DATES]")
  batch = assert(tonumber(args[2]), "BATCH must be a number")
  local token = assert(args[3], "TOKEN is missing")
  path = args[4] or "/v1/events"
  -- DATES: "history" (every day of 2015-2021, uniformly: a back-fill) or "recent:YYYY-MM-DD" (the 30
  -- days up to that day: a live feed of field contacts).
  local dates = args[5] or "history"
  local tid = id or 0
  idprefix = nonce .. "-t" .. tid .. "-"
  counter = 0
  -- The seed depends on the nonce too, so the warm-up and the measured run send different points.
  local h = 12345
  for k = 1, #nonce do
    h = (h * 31 + nonce:byte(k)) % 2147483647
  end
  seed = (h + tid * 7919) % 2147483646 + 1
  headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }

  -- Every (kind, day) prefix once, kinds weighted 8:1:1 by repeating arrest.
  local kinds = { "arrest", "arrest", "arrest", "arrest", "arrest", "arrest", "arrest", "arrest",
    "diversion_referral", "social_contact_referral" }
  local days = {}
  local y, m, d = dates:match("^recent:(%d+)-(%d+)-(%d+)$")
  if y then
    local last = os.time({ year = tonumber(y), month = tonumber(m), day = tonumber(d), hour = 12 })
    for k = 0, 29 do
      days[#days + 1] = os.date("!%Y-%m-%d", last - k * 86400)
    end
  else
    assert(dates == "history", "DATES must be history or recent:YYYY-MM-DD")
    for year = 2015, 2021 do
      for month = 1, 12 do
        for day = 1, 28 do
          days[#days + 1] = string.format("%04d-%02d-%02d", year, month, day)
        end
      end
    end
  end
  heads, nheads = {}, 0
  for _, kind in ipairs(kinds) do
    for _, day in ipairs(days) do
      nheads = nheads + 1
      heads[nheads] = string.format(
        '{"kind":"%s","occurred_on":"%s","offense":"PCS","source":"bench-ingest","lon":', kind, day)
    end
  end
end

-- One event is 8 pieces: head (kind, day, offense, source, `"lon":`), lon, `,"lat":`, lat,
-- `,"external_id":"`, the id prefix, the counter, and `"},` (`"}]` after the last).
function request()
  local n = 1
  pieces[1] = "["
  for i = 1, batch do
    counter = counter + 1
    local r = prng()
    -- Points in steps of 1e-5° (about 1 m); -12268000 / 1e5 prints as -122.68 (LuaJIT's %.14g).
    local lon = (-12268000 + prng() % 6001 - 3000) / 100000
    local lat = (4552000 + prng() % 6001 - 3000) / 100000
    pieces[n + 1] = heads[r % nheads + 1]
    pieces[n + 2] = lon
    pieces[n + 3] = ',"lat":'
    pieces[n + 4] = lat
    pieces[n + 5] = ',"external_id":"'
    pieces[n + 6] = idprefix
    pieces[n + 7] = counter
    pieces[n + 8] = i < batch and '"},' or '"}]'
    n = n + 8
  end
  return wrk.format("POST", path, headers, table.concat(pieces, "", 1, n))
end

function response(status, _, body)
  if status == 201 then
    ok = ok + 1
    -- {"count":N,"inserted":N,"updated":N,"unchanged":N}
    inserted = inserted + (tonumber(body:match('"inserted":(%d+)')) or 0)
    updated = updated + (tonumber(body:match('"updated":(%d+)')) or 0)
    unchanged = unchanged + (tonumber(body:match('"unchanged":(%d+)')) or 0)
  else
    other = other + 1
    statuses[status] = (statuses[status] or 0) + 1
    if sample_error == "" then
      sample_error = status .. " " .. tostring(body or ""):sub(1, 500)
    end
  end
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

function done(summary, latency, _)
  local t = { ok = 0, other = 0, inserted = 0, updated = 0, unchanged = 0 }
  local byst, sample = {}, ""
  for _, thread in ipairs(threads) do
    for k in pairs(t) do
      t[k] = t[k] + (thread:get(k) or 0)
    end
    for st, c in pairs(thread:get("statuses") or {}) do
      byst[st] = (byst[st] or 0) + c
    end
    local s = thread:get("sample_error") or ""
    if sample == "" then sample = s end
  end
  local st = {}
  for k, c in pairs(byst) do
    table.insert(st, string.format('"%s":%d', tostring(k), c))
  end
  table.sort(st)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f},' ..
      '"responses_201":%d,"responses_other":%d,"statuses_other":{%s},' ..
      '"inserted":%d,"updated":%d,"unchanged":%d,"sample_error":%s}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean,
    t.ok, t.other, table.concat(st, ","), t.inserted, t.updated, t.unchanged,
    sample == "" and "null" or json_string(sample)))
  io.write(string.format(
    "WRKKV requests=%d duration_us=%d ok=%d other=%d inserted=%d updated=%d unchanged=%d " ..
      "connect=%d read=%d write=%d timeout=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, t.ok, t.other, t.inserted, t.updated, t.unchanged,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
  if sample ~= "" then
    io.write("WRKERR ", (sample:gsub("%c", " ")), "\n")
  end
end
