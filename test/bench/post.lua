-- wrk script: POST one fixed DER TimeStampReq on keep-alive connections
-- and report counts and latency percentiles in one machine-readable line.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/timestamp-query"
local f = assert(io.open(os.getenv("SELLO_TSQ"), "rb"))
wrk.body = f:read("*a")
f:close()

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("SELLO requests=%d non2xx=%d errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
