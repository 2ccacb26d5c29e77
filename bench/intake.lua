-- wrk script for the report intake benchmark (driven by bench/intake.py).
--
--   wrk -t2 -c8 -d30s --latency -s bench/intake.lua http://127.0.0.1:PORT -- DATAFILE
--
-- DATAFILE is a Lua file written by intake.py (under bench/results/, not committed: it holds
-- access tokens). It returns
--   { patients = { { id = 12, token = "eyJ...", unit = "C", symptoms = { "fatigue", ... } }, ... } }
-- Each request is POST /api/v1/patients/{id}/reports for the next patient in turn, with a fresh
-- uuid4 client_report_id, recorded_at = now (UTC), vitals, 2-3 of the patient's symptoms with
-- severity 0-2, and about one fever in ten. Any answer other than 201 is counted; done() prints
-- one machine-readable line starting with INTAKE_RESULT, which intake.py parses.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_no", #threads)
end

local function seed_random()
  local seed = os.time() + thread_no * 7919
  local urandom = io.open("/dev/urandom", "rb")
  if urandom then
    local bytes = urandom:read(6)
    urandom:close()
    for i = 1, #bytes do
      seed = (seed * 256 + bytes:byte(i)) % 4503599627370496 -- 2^52
    end
  end
  math.randomseed(seed)
  for _ = 1, 10 do math.random() end
end

function init(args)
  local data = dofile(args[1])
  patients = data.patients
  npatients = #patients
  seed_random()
  -- Threads start at different points of the rotation.
  cursor = math.random(npatients) - 1
  non201 = 0
  sample = ""
  status_counts = ""
  counts = {}
end

local function uuid4()
  return string.format(
    "%08x-%04x-4%03x-%04x-%06x%06x",
    math.random(0, 0xffffffff), math.random(0, 0xffff), math.random(0, 0xfff),
    0x8000 + math.random(0, 0x3fff), math.random(0, 0xffffff), math.random(0, 0xffffff)
  )
end

local function temperature(unit)
  local celsius
  if math.random() < 0.10 then
    celsius = 38.0 + math.random(0, 15) / 10 -- fever: 38.0-39.5
  else
    celsius = 36.0 + math.random(0, 17) / 10 -- 36.0-37.7
  end
  if unit == "F" then
    return string.format('{"value": %.1f, "unit": "F"}', celsius * 9 / 5 + 32)
  end
  return string.format('{"value": %.1f, "unit": "C"}', celsius)
end

local function symptoms(codes)
  -- 2 or 3 distinct codes of the patient's checklist (partial Fisher-Yates), severity 0-2.
  local pool = {}
  for i = 1, #codes do pool[i] = codes[i] end
  local take = math.random(2, 3)
  local items = {}
  for i = 1, take do
    local j = math.random(i, #pool)
    pool[i], pool[j] = pool[j], pool[i]
    local r = math.random()
    local severity = (r < 0.5 and 0) or (r < 0.85 and 1) or 2
    items[i] = string.format('{"code": "%s", "severity": %d}', pool[i], severity)
  end
  return "[" .. table.concat(items, ", ") .. "]"
end

function request()
  cursor = cursor % npatients + 1
  local patient = patients[cursor]
  local systolic = math.random(98, 142)
  local body = string.format(
    '{"client_report_id": "%s", "recorded_at": "%s", "temperature": %s, '
      .. '"heart_rate": %d, "systolic_bp": %d, "diastolic_bp": %d, "spo2": %d, "symptoms": %s}',
    uuid4(), os.date("!%Y-%m-%dT%H:%M:%S+00:00"), temperature(patient.unit),
    math.random(58, 112), systolic, math.random(58, systolic - 25), math.random(93, 99),
    symptoms(patient.symptoms)
  )
  return wrk.format("POST", "/api/v1/patients/" .. patient.id .. "/reports", {
    ["Authorization"] = "Bearer " .. patient.token,
    ["Content-Type"] = "application/json",
  }, body)
end

function response(status, headers, body)
  if status ~= 201 then
    non201 = non201 + 1
    counts[status] = (counts[status] or 0) + 1
    local parts = {}
    for code, n in pairs(counts) do parts[#parts + 1] = code .. ":" .. n end
    status_counts = table.concat(parts, ",")
    if sample == "" then sample = string.sub(tostring(status) .. " " .. (body or ""), 1, 300) end
  end
end

function done(summary, latency, requests)
  local bad, statuses, samples = 0, {}, {}
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("non201") or 0)
    local s = thread:get("status_counts")
    if s and s ~= "" then statuses[#statuses + 1] = s end
    local b = thread:get("sample")
    if b and b ~= "" then samples[#samples + 1] = b end
  end
  local e = summary.errors
  io.write(string.format(
    "INTAKE_RESULT requests=%d duration_us=%d non201=%d connect=%d read=%d write=%d "
      .. "status=%d timeout=%d mean_us=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d statuses=%s\n",
    summary.requests, summary.duration, bad, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, (#statuses > 0 and table.concat(statuses, ",") or "-")
  ))
  for _, b in ipairs(samples) do
    io.write("INTAKE_SAMPLE " .. string.gsub(b, "\n", " ") .. "\n")
  end
end
