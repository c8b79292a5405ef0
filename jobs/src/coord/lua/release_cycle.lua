-- KEYS[1] inflight, KEYS[2] cycle record; ARGV user, cycle_no, holder, events channel.
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local rec = redis.call('HMGET', KEYS[2], 'no', 'holder')
if rec[1] ~= ARGV[2] or rec[2] ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[2], 'holder', '', 'lease', now)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PUBLISH', ARGV[4], 's')
return 1
