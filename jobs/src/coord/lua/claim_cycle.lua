-- KEYS[1] inflight zset, KEYS[2] cycle record; ARGV user, cycle_no, holder, ttl_ms.
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local rec = redis.call('HMGET', KEYS[2], 'no', 'holder', 'lease')
if not rec[1] or rec[1] ~= ARGV[2] or not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 'none' end
if rec[2] ~= '' and rec[2] ~= ARGV[3] and tonumber(rec[3]) > now then return 'held' end
local lease = now + tonumber(ARGV[4])
redis.call('HSET', KEYS[2], 'holder', ARGV[3], 'lease', lease, 'renewed', now)
redis.call('ZADD', KEYS[1], lease, ARGV[1])
return 'claimed'
