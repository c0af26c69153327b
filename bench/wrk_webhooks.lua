-- wrk script for bench/webhook_ingest.py: sends the precomputed signed deliveries in
-- $BENCH_REQUESTS (each a raw HTTP request prefixed by its length in 8 digits), in order, one
-- per request; after the last it starts again and counts the repeats (the bench reports them).
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  file = assert(io.open(os.getenv("BENCH_REQUESTS"), "rb"))
  sent = 0
  repeated = 0
  wrapped = false
end

function request()
  local head = file:read(8)
  if head == nil then
    file:seek("set", 0)
    wrapped = true
    head = file:read(8)
  end
  sent = sent + 1
  if wrapped then repeated = repeated + 1 end
  return file:read(tonumber(head))
end

function done(summary, latency, requests)
  local repeats = 0
  for _, t in ipairs(threads) do repeats = repeats + t:get("repeated") end
  local e = summary.errors
  local seconds = summary.duration / 1e6
  local failed = e.connect + e.read + e.write + e.timeout
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "ok": %d, "non_2xx": %d, "errors": %d, "rps": %.1f, ' ..
    '"p50_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, "repeated": %d}\n',
    summary.requests, summary.requests - e.status - e.timeout, e.status, failed,
    (summary.requests - e.status - e.timeout) / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000, repeats))
end
