-- wrk script: every request creates a new user (a write with an event).
-- Usernames are random per thread, so threads and servers never collide.
local counter = 0
local prefix = ""

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
  prefix = string.format("w%08x", math.random(0, 0x7fffffff))
end

function request()
  counter = counter + 1
  local body = string.format('{"username":"%s-%d"}', prefix, counter)
  local headers = { ["Content-Type"] = "application/json" }
  for name, value in pairs(wrk.headers) do headers[name] = value end
  return wrk.format("POST", "/v1/users", headers, body)
end
