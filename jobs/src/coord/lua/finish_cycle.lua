-- KEYS[1] inflight, KEYS[2] schedule, KEYS[3] cycle record, KEYS[4] checkpoint hash.
-- ARGV user, cycle_no, holder, next_run_ms or '', events channel.
-- A cycle a stop came for (cancel.lua) schedules nothing.
local rec = redis.call('HMGET', KEYS[3], 'no', 'holder', 'stop')
if rec[1] ~= ARGV[2] or rec[2] ~= ARGV[3] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[3], KEYS[4])
if ARGV[4] ~= '' and not rec[3] then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
  redis.call('PUBLISH', ARGV[5], 's')
end
return 1
