-- wrk script: rotates over the request paths in the file named by the
-- environment variable PATHS (one path a line), each thread from its own
-- offset, so that consecutive requests name different users and groups.
-- Non-2xx answers are counted by wrk ("Non-2xx or 3xx responses").
local paths = {}
for line in io.lines(os.getenv("PATHS")) do
  if #line > 0 then paths[#paths + 1] = line end
end
assert(#paths > 0, "no paths in " .. tostring(os.getenv("PATHS")))

local threads_seen = 0
function setup(thread)
  threads_seen = threads_seen + 1
  thread:set("offset", threads_seen * 7919)
end

local i = 0
function init(args)
  i = (tonumber(offset) or 0) % #paths
end

function request()
  i = i + 1
  if i > #paths then i = 1 end
  return wrk.format("GET", paths[i])
end
