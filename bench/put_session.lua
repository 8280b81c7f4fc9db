-- S5: every request logs a NEW session, PUT /v1/me/sessions/<fresh uuid4>.
-- A repeated id would be an idempotent replay (200 unchanged), not a write.
-- Arguments after `--`: performed_at (ISO 8601 with offset), a stage-1
-- exercise slug of the program, the program slug, and a random seed.

local body

local function uuid4()
  return (string.gsub("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", "[xy]", function(c)
    local v = (c == "x") and math.random(0, 15) or math.random(8, 11)
    return string.format("%x", v)
  end))
end

function init(args)
  local performed_at, exercise, program, seed = args[1], args[2], args[3], args[4]
  math.randomseed(tonumber(seed) or os.time())
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
