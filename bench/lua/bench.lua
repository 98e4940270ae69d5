-- One wrk script for every scenario, configured by a file of `key=value` lines (written by
-- bench/wrk.py) named as the first script argument:
--   method, path, body       the request (body form-encoded)
--   header=Name: value       repeatable
--   bodies=PREFIX            each thread sends the lines of PREFIX.<thread> as bodies, each once,
--                            and stops when they run out (authorization codes, logins)
--   chain=TEMPLATE           refresh with rotation: the lines of `bodies` are refresh tokens and
--                            each response's new refresh token goes back into the pool (%s in
--                            TEMPLATE is the token)
--   capture=location:NAME    write the query parameter NAME of the Location header, or
--   capture=body:NAME        the JSON string field NAME of the body, to OUT.<thread>
--   out=OUT, capture_limit=N (per thread), stop_after_capture=1 (stop at the limit)
--   proofs=PREFIX            each request carries the next line of PREFIX.<thread> as its DPoP
--                            header (a proof is good once); the thread stops when they run out
-- A thread that runs out of bodies stops early, so the rate is counted over each thread's own
-- window (first request to last response, by the monotonic clock), not wrk's fixed duration.
-- done() prints one line, `BENCHJSON {...}`, that bench/wrk.py reads.

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *ts);
]])
local ts = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

local conf = { headers = {} }
local pool, first, last = {}, 1, 0
local proofs, proof_first, proof_last, proof_headers = {}, 1, 0, nil
local out, captured, capture_kind, capture_name = nil, 0, nil, nil
-- Read back by done() through thread:get().
ok, failed, t_first, t_last = 0, 0, 0, 0

local function read_conf(path)
  for line in io.lines(path) do
    local key, value = line:match("^([%w_]+)=(.*)$")
    if key == "header" then
      local name, v = value:match("^([^:]+):%s*(.*)$")
      conf.headers[name] = v
    elseif key then
      conf[key] = value
    end
  end
end

function init(args)
  read_conf(args[1])
  wrk.method = conf.method or "GET"
  wrk.path = conf.path or "/"
  wrk.body = conf.body
  for name, value in pairs(conf.headers) do
    wrk.headers[name] = value
  end
  if conf.bodies then
    for line in io.lines(conf.bodies .. "." .. tid) do
      if line ~= "" then
        last = last + 1
        pool[last] = line
      end
    end
  end
  if conf.capture then
    capture_kind, capture_name = conf.capture:match("^(%w+):(.+)$")
    out = io.open(conf.out .. "." .. tid, "w")
  end
  conf.capture_limit = tonumber(conf.capture_limit or "1000000000")
  if conf.proofs then
    for line in io.lines(conf.proofs .. "." .. tid) do
      if line ~= "" then
        proof_last = proof_last + 1
        proofs[proof_last] = line
      end
    end
    proof_headers = {}
    for name, value in pairs(wrk.headers) do
      proof_headers[name] = value
    end
  end
end

-- The headers of the next request with a DPoP proof, or nil when the proofs ran out.
local function next_proof_headers()
  if proof_first > proof_last then
    return nil
  end
  proof_headers["DPoP"] = proofs[proof_first]
  proofs[proof_first] = nil
  proof_first = proof_first + 1
  return proof_headers
end

local function stop_thread()
  wrk.thread:stop()
  -- Written perhaps, but its answer is never read: the thread's loop ends now.
  return wrk.format("GET", "/.well-known/openid-configuration", {}, nil)
end

function request()
  if t_first == 0 then
    t_first = now()
  end
  local headers = nil
  if conf.proofs then
    headers = next_proof_headers()
    if not headers then
      return stop_thread()
    end
  end
  if not conf.bodies then
    if headers then
      return wrk.format(nil, nil, headers, nil)
    end
    return wrk.request()
  end
  if first > last then
    return stop_thread()
  end
  local item = pool[first]
  pool[first] = nil
  first = first + 1
  if conf.chain then
    item = string.format(conf.chain, item)
  end
  return wrk.format(nil, nil, headers, item)
end

local function captured_value(headers, body)
  if capture_kind == "location" then
    local location = headers["location"] or headers["Location"] or ""
    return location:match("[?&]" .. capture_name .. "=([^&]+)")
  end
  return body and body:match('"' .. capture_name .. '"%s*:%s*"([^"]+)"')
end

function response(status, headers, body)
  t_last = now()
  if status >= 400 then
    failed = failed + 1
    return
  end
  ok = ok + 1
  if conf.chain then
    local token = body and body:match('"refresh_token"%s*:%s*"([^"]+)"')
    if token then
      last = last + 1
      pool[last] = token
    end
  end
  if out and captured < conf.capture_limit then
    local value = captured_value(headers, body)
    if value then
      captured = captured + 1
      out:write(value, "\n")
      out:flush()
      if conf.stop_after_capture and captured >= conf.capture_limit then
        wrk.thread:stop()
      end
    end
  end
end

function done(summary, latency, requests)
  local n_ok, n_failed, start, stop = 0, 0, math.huge, 0
  for _, thread in ipairs(threads) do
    n_ok = n_ok + thread:get("ok")
    n_failed = n_failed + thread:get("failed")
    local a, b = thread:get("t_first"), thread:get("t_last")
    if a > 0 and a < start then start = a end
    if b > stop then stop = b end
  end
  local window = (stop > start) and (stop - start) or 0
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"ok":%d,"failed":%d,"window_s":%.4f,"duration_us":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    summary.requests, n_ok, n_failed, window, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end
