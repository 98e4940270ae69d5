-- The city-morning mix (bench/city.py): each request is drawn by weight from six kinds, and each
-- answer feeds the pools the next requests draw from. Configured by a file of `key=value` lines
-- named as the first script argument:
--   weights=A,C,R,U,I,L       authorize with a live session, code exchange, refresh, UserInfo,
--                             introspection, password sign-in (any positive numbers)
--   apps=FILE                 lines `client_id basic_header`: the web apps (index = line)
--   apis=FILE                 lines `basic_header`: the department APIs that introspect
--   cookies=FILE              lines `yht_session=...`: the seeded live sessions
--   refresh=PREFIX            PREFIX.<thread>: lines `app refresh_token` to rotate
--   access=PREFIX             PREFIX.<thread>: lines `access_token` to read UserInfo with
--   logins=PREFIX             PREFIX.<thread>: sign-in form bodies, each posted once
--   browser=VALUE             the yht_browser cookie the sign-in transactions were made for
--   issued=PREFIX             PREFIX.<thread>: `R app token` for each refresh token issued and
--                             `U token` for each one sent, so the next run starts from the live ones
--   redirect_uri_q, challenge, verifier   the redirect URI (URL-encoded) and PKCE S256 pair
-- Every request carries an X-Request-ID naming its kind and app; the gateway echoes it, which is
-- how an answer is matched to its request (wrk's response() does not say which it answers).
-- done() prints one line, `BENCHJSON {...}`, with wrk's latency and each kind's counts.

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } city_timespec;
int clock_gettime(int clock, city_timespec *ts);
]])
local ts = ffi.new("city_timespec")
local function now()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local KINDS = { "a", "c", "r", "u", "i", "l" }
local threads, counter = {}, 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

local conf = {}
local weights, total_weight = {}, 0
local apps, apis, cookies = {}, {}, {}
local codes, refresh, access, logins = {}, {}, {}, {}
local login_next = 1
local issued = nil
local sent = {}
local seq = 0
-- Read back by done(): per kind, answers that did what they should, the others, summed latency.
ok_a, ok_c, ok_r, ok_u, ok_i, ok_l = 0, 0, 0, 0, 0, 0
no_a, no_c, no_r, no_u, no_i, no_l = 0, 0, 0, 0, 0, 0
ms_a, ms_c, ms_r, ms_u, ms_i, ms_l = 0, 0, 0, 0, 0, 0
first_failure = ""
t_first, t_last = 0, 0

local function lines(path)
  local found = {}
  for line in io.lines(path) do
    if line ~= "" then
      table.insert(found, line)
    end
  end
  return found
end

function init(args)
  for line in io.lines(args[1]) do
    local key, value = line:match("^([%w_]+)=(.*)$")
    if key then
      conf[key] = value
    end
  end
  local n = 0
  for w in conf.weights:gmatch("[^,]+") do
    n = n + 1
    total_weight = total_weight + tonumber(w)
    weights[n] = total_weight
  end
  for _, line in ipairs(lines(conf.apps)) do
    local id, basic = line:match("^(%S+) (.+)$")
    table.insert(apps, { id = id, basic = basic })
  end
  apis = lines(conf.apis)
  cookies = lines(conf.cookies)
  for _, line in ipairs(lines(conf.refresh .. "." .. tid)) do
    local app, token = line:match("^(%d+) (%S+)$")
    table.insert(refresh, { app = tonumber(app), token = token })
  end
  access = lines(conf.access .. "." .. tid)
  logins = lines(conf.logins .. "." .. tid)
  issued = io.open(conf.issued .. "." .. tid, "w")
  math.randomseed(os.time() * 100 + tid)
end

local function pick()
  local x = math.random() * total_weight
  for n, upto in ipairs(weights) do
    if x < upto then
      return KINDS[n]
    end
  end
  return "u"
end

local function request_id(kind, app)
  seq = seq + 1
  local id = string.format("%s%04d-%d-%08d", kind, app, tid, seq)
  sent[id] = now()
  return id
end

local FORM = "application/x-www-form-urlencoded"

local function authorize()
  local app = math.random(#apps)
  local query = "client_id=" .. apps[app].id .. "&response_type=code&scope=openid%20profile"
    .. "&redirect_uri=" .. conf.redirect_uri_q .. "&state=s&code_challenge=" .. conf.challenge
    .. "&code_challenge_method=S256"
  local headers = { ["X-Request-ID"] = request_id("a", app), Cookie = cookies[math.random(#cookies)] }
  return wrk.format("GET", "/oauth/authorize?" .. query, headers, nil)
end

local function exchange()
  local item = table.remove(codes)
  local headers = { ["X-Request-ID"] = request_id("c", item.app), Authorization = apps[item.app].basic,
                    ["Content-Type"] = FORM }
  local body = "grant_type=authorization_code&code=" .. item.code .. "&redirect_uri="
    .. conf.redirect_uri_q .. "&code_verifier=" .. conf.verifier
  return wrk.format("POST", "/oauth/token", headers, body)
end

local function rotate()
  local item = table.remove(refresh, 1)
  issued:write("U ", item.token, "\n")
  local headers = { ["X-Request-ID"] = request_id("r", item.app), Authorization = apps[item.app].basic,
                    ["Content-Type"] = FORM }
  return wrk.format("POST", "/oauth/token", headers, "grant_type=refresh_token&refresh_token=" .. item.token)
end

local function userinfo()
  local token = access[math.random(#access)]
  local headers = { ["X-Request-ID"] = request_id("u", 0), Authorization = "Bearer " .. token }
  return wrk.format("GET", "/oauth/userinfo", headers, nil)
end

local function introspect()
  local token = access[math.random(#access)]
  local api = math.random(#apis)
  local headers = { ["X-Request-ID"] = request_id("i", api), Authorization = apis[api],
                    ["Content-Type"] = FORM }
  return wrk.format("POST", "/oauth/introspect", headers, "token=" .. token)
end

local function sign_in()
  local body = logins[login_next]
  login_next = login_next + 1
  local headers = { ["X-Request-ID"] = request_id("l", 0), Cookie = "yht_browser=" .. conf.browser,
                    ["Content-Type"] = FORM }
  return wrk.format("POST", "/login", headers, body)
end

function request()
  if t_first == 0 then
    t_first = now()
  end
  local kind = pick()
  -- A kind whose pool is empty gives way to the visit that fills the pools.
  if kind == "c" and #codes == 0 then kind = "a" end
  if kind == "r" and #refresh == 0 then kind = "a" end
  if (kind == "u" or kind == "i") and #access == 0 then kind = "a" end
  if kind == "l" and login_next > #logins then kind = "a" end
  if kind == "a" then return authorize() end
  if kind == "c" then return exchange() end
  if kind == "r" then return rotate() end
  if kind == "u" then return userinfo() end
  if kind == "i" then return introspect() end
  return sign_in()
end

local function keep_tokens(app, body)
  local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if token then
    table.insert(refresh, { app = app, token = token })
    issued:write("R ", app, " ", token, "\n")
  end
  local at = body:match('"access_token"%s*:%s*"([^"]+)"')
  if at then
    if #access >= 2000 then
      access[math.random(#access)] = at
    else
      table.insert(access, at)
    end
  end
  return token ~= nil and at ~= nil
end

local function answered(kind, app, status, headers, body)
  if kind == "a" then
    local location = headers["location"] or headers["Location"] or ""
    local code = location:match("[?&]code=([^&]+)")
    if code then
      table.insert(codes, { app = app, code = code })
    end
    return code ~= nil
  elseif kind == "c" or kind == "r" then
    return status == 200 and keep_tokens(app, body or "")
  elseif kind == "i" then
    return status == 200 and (body or ""):find('"active"%s*:%s*true') ~= nil
  elseif kind == "l" then
    return status == 303 or status == 302
  end
  return status == 200
end

function response(status, headers, body)
  t_last = now()
  local id = headers["x-request-id"] or headers["X-Request-ID"] or ""
  local kind, app = id:match("^(%a)(%d+)-")
  if not kind then
    return
  end
  local started = sent[id]
  sent[id] = nil
  local good = answered(kind, tonumber(app), status, headers, body)
  if good then
    _G["ok_" .. kind] = _G["ok_" .. kind] + 1
  else
    _G["no_" .. kind] = _G["no_" .. kind] + 1
    if first_failure == "" then
      first_failure = kind .. " " .. status .. " " .. (body or ""):sub(1, 200):gsub('[%c"\\]', " ")
    end
  end
  if started then
    _G["ms_" .. kind] = _G["ms_" .. kind] + (t_last - started) * 1000
  end
end

function done(summary, latency, requests)
  local sums = {}
  local start, stop = math.huge, 0
  for _, kind in ipairs(KINDS) do
    sums[kind] = { 0, 0, 0 }
  end
  local failure = ""
  for _, thread in ipairs(threads) do
    for _, kind in ipairs(KINDS) do
      local s = sums[kind]
      s[1] = s[1] + thread:get("ok_" .. kind)
      s[2] = s[2] + thread:get("no_" .. kind)
      s[3] = s[3] + thread:get("ms_" .. kind)
    end
    local a, b = thread:get("t_first"), thread:get("t_last")
    if a > 0 and a < start then start = a end
    if b > stop then stop = b end
    if failure == "" then failure = thread:get("first_failure") end
  end
  local parts = {}
  for _, kind in ipairs(KINDS) do
    local s = sums[kind]
    table.insert(parts, string.format('"%s":{"ok":%d,"failed":%d,"ms":%.1f}', kind, s[1], s[2], s[3]))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"window_s":%.4f,"kinds":{%s},"first_failure":"%s",' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    summary.requests, (stop > start) and (stop - start) or 0, table.concat(parts, ","), failure,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end
