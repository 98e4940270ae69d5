-- Device-grant polls (RFC 8628 §3.4): each request polls one of many pending device codes,
-- round-robin, so most answers are authorization_pending (a few slow_down). Every answer is
-- an answered poll. Arguments: the file of device codes, the client id.
local codes, i, body_prefix = {}, 0, nil

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then table.insert(codes, line) end
  end
  i = math.random(#codes)
  body_prefix = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id="
    .. args[2] .. "&device_code="
end

function request()
  i = i % #codes + 1
  return wrk.format("POST", "/oauth/token",
    { ["Content-Type"] = "application/x-www-form-urlencoded" }, body_prefix .. codes[i])
end
