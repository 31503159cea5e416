-- wrk script of benchmarks/bench_service.py: POST the example incidents to /v1/suggest.
--
--   wrk -t1 -c16 -d5s -s benchmarks/wrk_suggest.lua http://127.0.0.1:PORT -- TOKEN FILE...
--
-- Each connection posts the incidents in turn (one request in flight per connection), with
-- the bearer token. At the end it prints one JSON line to stdout: requests, seconds, the
-- errors as wrk counts them (connect, read, write, timeout, and status >= 400) and the
-- latency percentiles in microseconds. Answers are checked by bench_service.py itself.

local bodies = {}
local token = nil
local next_index = 1

function init(args)
  token = args[1]
  for i = 2, #args do
    local file = assert(io.open(args[i], "rb"))
    bodies[#bodies + 1] = wrk.format("POST", "/v1/suggest", {
      ["Host"] = "127.0.0.1",
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. token,
    }, file:read("*a"))
    file:close()
  end
  assert(#bodies > 0, "no incident files given")
end

function request()
  local raw = bodies[next_index]
  next_index = next_index % #bodies + 1
  return raw
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.6f, "errors": {"connect": %d, "read": %d, "write": %d, '
      .. '"status": %d, "timeout": %d}, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
      .. '"max_us": %d}\n',
    summary.requests, summary.duration / 1e6, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
