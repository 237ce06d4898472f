-- wrk script: a flood of wrong-password logins, a distinct username per request (so the per-account
-- counters never stop it), counting the answers by status.
--   wrk -s bench/login-flood.lua http://host:port/auth/login
-- done() prints one line "WRK_JSON {...}" for login-flood.mjs.
-- FLOOD_XFF=1 (behind a proxy the app trusts): each request claims another client address in X-Forwarded-For,
-- a flood from many addresses (the proxy appends the real one; the app takes the client's).
local threads = {}
local counter = 1

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local n = 0
statuses = {}

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

local spoof = os.getenv("FLOOD_XFF") == "1"

function request()
  n = n + 1
  local headers = nil
  if spoof then
    -- wrk.format uses this table instead of wrk.headers: Content-Type again.
    headers = {
      ["Content-Type"] = "application/json",
      ["X-Forwarded-For"] = string.format("10.%d.%d.%d", id % 256, math.floor(n / 256) % 256, n % 256),
    }
  end
  return wrk.format(nil, nil, headers, string.format('{"username":"flood-%d-%d","password":"wrong"}', id, n))
end

function response(status, headers, body)
  local k = tostring(status)
  statuses[k] = (statuses[k] or 0) + 1
end

function done(summary, latency, reqs)
  local total = {}
  for _, t in ipairs(threads) do
    for status, count in pairs(t:get("statuses")) do
      total[status] = (total[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(total) do table.insert(parts, string.format('"%s":%d', status, count)) end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d,"statuses":{%s}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), table.concat(parts, ",")))
end
