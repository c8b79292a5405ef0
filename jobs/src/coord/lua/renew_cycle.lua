-- KEYS[1] inflight zset, KEYS[2] cycle record; ARGV user, cycle_no, holder, ttl_ms.
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local rec = redis.call('HMGET', KEYS[2], 'no', 'holder')
if rec[1] ~= ARGV[2] or rec[2] ~= ARGV[3] then return 0 end
local lease = now + tonumber(ARGV[4])
redis.call('HSET', KEYS[2], 'lease', lease, 'renewed', now)
redis.call('ZADD', KEYS[1], lease, ARGV[1])
return 1
