-- KEYS[1] schedule, KEYS[2] inflight, KEYS[3] cycle record; ARGV user.
-- A cycle in flight is marked: its finish schedules nothing (finish_cycle.lua).
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then return 'scheduled' end
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  redis.call('HSET', KEYS[3], 'stop', 1)
  return 'inflight'
end
return 'idle'
