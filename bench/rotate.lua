-- wrk script: one request per bearer token of a file (one token per line), chosen by a workload mix.
--   wrk -s bench/rotate.lua URL -- <token file or ""> [stop after N responses (warm-up), 0 = run for -d] [first] [mix]
-- mix:
--   rr    round robin over every token (the worst case: each user as active as every other). `first`
--         is the index to start at, so consecutive runs continue the rotation where the last one
--         stopped: 200,000 users must stay misses over many short runs, not replay the warm-up's tokens.
--   zipf  user of rank k (k = 1..N, token k) with probability proportional to 1/k (Zipf, s = 1.0): the
--         usual model of user activity, a few users making most requests. Stationary.
--   day   a working set of 20,000 active users drifting through the file: each request picks one of
--         users [w, w + 20,000) at random, and w moves on by one user every DAY_STEP (10) requests, so
--         a user is active for about 200,000 requests and then leaves. `first` (requests sent so far)
--         places the window, so consecutive runs go on drifting.
-- Requests are formatted once in init(), so the generator does no string work per request.
-- done() prints one line "WRK_JSON {...}" for run.mjs.
local requests = {}
local n = 0
local i = 0
local sent = 0
local stop_after = 0
local responses = 0
local mix = "rr"
local cdf = nil
local WINDOW = 20000
local DAY_STEP = 10

function init(args)
  local file = args[1]
  stop_after = tonumber(args[2] or "0") or 0
  local first = tonumber(args[3] or "0") or 0
  mix = args[4] or "rr"
  if mix == "" then mix = "rr" end
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
  sent = first
  -- A fixed seed per run start: the same sequence for the workload and for its paired bare server.
  math.randomseed(first + 1)
  if mix == "zipf" then
    cdf = {}
    local total = 0
    for k = 1, n do
      total = total + 1 / k
      cdf[k] = total
    end
    for k = 1, n do cdf[k] = cdf[k] / total end
  end
  if stop_after > 0 then
    -- Only in the warm-up: a response callback makes wrk parse every response.
    response = function(status, headers, body)
      responses = responses + 1
      if responses == stop_after then
        wrk.thread:stop()
        -- wrk's main thread sleeps for the whole -d whatever its threads do: this line tells run.mjs
        -- to interrupt it (SIGINT, which wrk handles by ending the run and reporting), so a warm-up
        -- lasts as long as its requests, not the 30 s cap.
        io.write("WRK_WARM_DONE\n")
        io.flush()
      end
    end
  end
end

local function zipf_index()
  local u = math.random()
  local lo, hi = 1, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < u then lo = mid + 1 else hi = mid end
  end
  return lo
end

function request()
  if mix == "zipf" then
    return requests[zipf_index()]
  elseif mix == "day" then
    sent = sent + 1
    local w = math.floor(sent / DAY_STEP)
    local size = WINDOW
    if size > n then size = n end
    return requests[((w + math.random(0, size - 1)) % n) + 1]
  end
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
