-- One CAS ticket validation a request, each ticket once: the tickets file holds one query
-- string a line (service and ticket); each thread takes every Nth line.
-- successes and failures are globals: done() reads them from each thread with thread:get.
local lines, index, step = {}, 0, 1
successes, failures = 0, 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local path, total = args[1], tonumber(args[2])
  step = total
  for line in io.lines(path) do table.insert(lines, line) end
  index = id + 1
end

function request()
  local line = lines[index]
  if line == nil then line = lines[1] end  -- out of tickets: counted as failures below
  index = index + step
  return wrk.format("GET", wrk.path .. "?" .. line)
end

function response(status, headers, body)
  if status == 200 and string.find(body, "authenticationSuccess", 1, true) then
    successes = successes + 1
  else
    failures = failures + 1
  end
end

function done(summary, latency, requests)
  local ok, bad = 0, 0
  for _, thread in ipairs(threads) do
    ok = ok + thread:get("successes")
    bad = bad + thread:get("failures")
  end
  io.write(string.format('{"successes": %d, "failures": %d, "seconds": %.3f, ' ..
    '"p50_ms": %.2f, "p99_ms": %.2f}\n', ok, bad, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
