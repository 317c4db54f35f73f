-- wrk script for bench/run scenario 3. wrk cannot speak to a proxy, so it connects to the proxy's port (the URL on
-- its command line) and this script makes every request name the origin in absolute form, as a proxy client does.
-- BENCH_TARGET is the request target: an absolute URL through a proxy, or "/small" when wrk talks to the origin.
-- BENCH_HOST is the Host header (the origin's authority).
local target = os.getenv("BENCH_TARGET") or "/small"
local host = os.getenv("BENCH_HOST") or "127.0.0.1:28080"
local req

init = function(args)
  wrk.headers["Host"] = host
  req = wrk.format("GET", target)
end

request = function()
  return req
end

-- One machine-readable line, latencies in microseconds. A read error is a connection the server closed (a proxy
-- without client keep-alive makes wrk reconnect); a status error is a response that is not 2xx or 3xx.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH rps=%.1f p50_us=%d p99_us=%d requests=%d errors=%d err_connect=%d err_read=%d"
      .. " err_write=%d err_status=%d err_timeout=%d\n",
      summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
      summary.requests, e.connect + e.read + e.write + e.status + e.timeout, e.connect, e.read, e.write, e.status,
      e.timeout))
end
