-- KEYS[1] schedule, KEYS[2] inflight, KEYS[3] cycle record; ARGV user, at_ms, events channel.
-- Withdraws a stop asked of the cycle in flight, or makes a cycle due unless one is scheduled.
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  redis.call('HDEL', KEYS[3], 'stop')
  return 'inflight'
end
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 'scheduled' end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PUBLISH', ARGV[3], 's')
return 'due'
