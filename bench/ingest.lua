-- wrk script: POST pre-signed reports, one distinct body per request, and count answers.
--
--   wrk -t1 -c32 -d10s -s bench/ingest.lua http://127.0.0.1:PORT/v1/reports -- REQUESTS_FILE
--
-- REQUESTS_FILE holds one request per line: "<index>\t<signature header>\t<JSON body>"
-- (wrk's Lua has no HMAC, so bench/ingest.py signs every body beforehand). Requests go out
-- in file order and wrap around at the end (a wrapped body is a replay: the service must
-- answer it as a duplicate). Each request carries its index as X-Request-Id, which the
-- service echoes, so the 202s can be matched to the rows stored.

local requests = {}
local count = 0
local next_index = 0
acked = {}       -- index -> true for each 202 that was not a duplicate (read by done())
statuses = {}    -- status -> count
duplicates = 0

function init(args)
   local path = args[1]
   for line in io.lines(path) do
      local index, signature, body = line:match("^(%d+)\t([^\t]+)\t(.*)$")
      count = count + 1
      requests[count] = wrk.format("POST", nil, {
         ["Content-Type"] = "application/json",
         ["X-Heatmeter-Signature-256"] = signature,
         ["X-Request-Id"] = index,
      }, body)
   end
   if count == 0 then
      error("no requests in " .. path)
   end
end

function request()
   next_index = next_index + 1
   if next_index > count then
      next_index = 1
   end
   return requests[next_index]
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if status == 202 then
      if body:find('"duplicate": true', 1, true) or body:find('"duplicate":true', 1, true) then
         duplicates = duplicates + 1
      else
         local index = headers["X-Request-Id"] or headers["x-request-id"]
         if index then
            acked[#acked + 1] = index
         end
      end
   end
end

local threads = {}

function setup(thread)
   threads[#threads + 1] = thread
end

-- One machine-readable line for bench/ingest.py, after wrk's own summary.
function done(summary, latency, requests_)
   local all_statuses, acks, dups = {}, {}, 0
   for _, thread in ipairs(threads) do
      for status, n in pairs(thread:get("statuses")) do
         all_statuses[#all_statuses + 1] = string.format('"%d": %d', status, n)
      end
      for _, index in ipairs(thread:get("acked")) do
         acks[#acks + 1] = index
      end
      dups = dups + thread:get("duplicates")
   end
   local seconds = summary.duration / 1e6
   io.write(string.format(
      'BENCH {"requests": %d, "seconds": %.3f, "per_s": %.1f, "p50_ms": %.3f, '
         .. '"p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, "errors": %d, '
         .. '"statuses": {%s}, "duplicates": %d, "acked": [%s]}\n',
      summary.requests, seconds, summary.requests / seconds,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000,
      summary.errors.connect + summary.errors.read + summary.errors.write
         + summary.errors.status + summary.errors.timeout,
      table.concat(all_statuses, ", "), dups, table.concat(acks, ", ")))
end
