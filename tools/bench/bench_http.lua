-- wrk script for tools/bench/bench_http.sh: GET PATH?lon=..&lat=.. over a fixed list of seeded points, so that
-- no two consecutive requests on a connection ask the same thing and no cache can help.
--
--   wrk -t2 -c64 -d15s --latency -s tools/bench/bench_http.lua http://127.0.0.1:P -- POINTS_FILE PATH [SUFFIX]
--
-- POINTS_FILE: one "lon lat" per line (tools/baseline-node/benchutil.js points [--mix outside|inside]
-- --lines FILE; bench_http.sh runs each eligibility server on each mix's file); the decimals are sent as
-- written. PATH: /v1/eligibility, or /ceiling (which ignores the query; it is sent anyway so every
-- server reads the same bytes). SUFFIX is appended to every query (e.g. "&at=2019-06-01";
-- the node baseline ignores it). Each thread starts at its own offset in the list.
-- done() prints one line "WRKJSON {...}" (requests, duration, errors, latency percentiles in µs).

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local requests = {}
local n = 0
local i = 0

function init(args)
  local file, path, suffix = args[1], args[2] or "/v1/eligibility", args[3] or ""
  local fh = assert(io.open(file, "r"), "cannot open points file " .. tostring(file))
  for line in fh:lines() do
    local lon, lat = line:match("^(%S+)%s+(%S+)$")
    if lon then
      n = n + 1
      requests[n] = wrk.format("GET", path .. "?lon=" .. lon .. "&lat=" .. lat .. suffix)
    end
  end
  fh:close()
  assert(n > 0, "no points in " .. file)
  i = ((id or 0) * 7919) % n
end

function request()
  i = i + 1
  if i > n then
    i = 1
  end
  return requests[i]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
