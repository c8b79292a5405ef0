-- KEYS[1] schedule, KEYS[2] inflight; ARGV user.
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then return 'scheduled' end
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 'inflight' end
return 'idle'
