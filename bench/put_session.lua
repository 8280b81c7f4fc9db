-- S5: every request logs a NEW session, PUT /v1/me/sessions/<fresh uuid4>.
-- A repeated id would be an idempotent replay (200 unchanged), not a write.
-- Arguments after `--`: performed_at (ISO 8601 with offset), a stage-1
-- exercise slug of the program and the program slug. The random seed comes
-- from /dev/urandom on every start: a warm-up and the run measured after it
-- (or two wrk side by side) must not send the same ids.

local body

local function fresh_seed()
  local source = assert(io.open("/dev/urandom", "rb"))
  local a, b, c, d = source:read(4):byte(1, 4)
  source:close()
  return ((a * 256 + b) * 256 + c) * 256 + d
end

local function uuid4()
  return (string.gsub("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", "[xy]", function(c)
    local v = (c == "x") and math.random(0, 15) or math.random(8, 11)
    return string.format("%x", v)
  end))
end

function init(args)
  local performed_at, exercise, program = args[1], args[2], args[3]
  math.randomseed(fresh_seed())
  body = string.format(
    '{"program": "%s", "stage": 1, "performed_at": "%s", "entries": '
      .. '[{"exercise": "%s", "sets_done": 2, "reps_done": 10, "difficulty": "easy", "pain": 1}]}',
    program, performed_at, exercise
  )
  wrk.method = "PUT"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  return wrk.format(nil, "/v1/me/sessions/" .. uuid4(), nil, body)
end
