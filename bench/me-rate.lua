-- wrk script: GET with one bearer token, each connection waiting a fixed delay between its requests, so the
-- /me load is a steady rate below what the server can do (connections × 1000 / delay req/s at most) rather
-- than a closed loop that saturates it.
--   wrk -s bench/me-rate.lua URL -- <token file> <delay ms>
-- done() prints one line "WRK_JSON {...}" for login-flood.mjs.
local req
local wait = 10

function init(args)
  local token = io.open(args[1]):read("*l")
  wait = tonumber(args[2] or "10") or 10
  req = wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. token })
end

function request()
  return req
end

function delay()
  return wait
end

function done(summary, latency, reqs)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"status_errors":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
