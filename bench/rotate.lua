-- wrk script: one request per bearer token of a file, rotated round robin (one token per line).
--   wrk -s bench/rotate.lua URL -- <token file or ""> [stop after N responses (warm-up), 0 = run for -d] [first token index]
-- The first index lets consecutive runs continue the rotation where the last one stopped: 200,000 users
-- must stay misses over many short runs, not replay the tokens the warm-up already cached.
-- Requests are formatted once in init(), so the generator does no string work per request.
-- done() prints one line "WRK_JSON {...}" for run.mjs.
local requests = {}
local n = 0
local i = 0
local stop_after = 0
local responses = 0

function init(args)
  local file = args[1]
  stop_after = tonumber(args[2] or "0") or 0
  local first = tonumber(args[3] or "0") or 0
  if file ~= nil and file ~= "" then
    for line in io.lines(file) do
      if #line > 0 then
        n = n + 1
        requests[n] = wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. line })
      end
    end
  end
  if n == 0 then
    n = 1
    requests[1] = wrk.format("GET", nil)
  end
  i = first % n
  if stop_after > 0 then
    -- Only in the warm-up: a response callback makes wrk parse every response.
    response = function(status, headers, body)
      responses = responses + 1
      if responses >= stop_after then wrk.thread:stop() end
    end
  end
end

function request()
  i = i + 1
  if i > n then i = 1 end
  return requests[i]
end

function done(summary, latency, reqs)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"status_errors":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
