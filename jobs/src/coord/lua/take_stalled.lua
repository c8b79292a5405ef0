-- KEYS[1] inflight zset; ARGV limit, claim_timeout_ms, cycle-record key prefix.
-- In-flight cycles past their deadline get a new deadline and no holder, and are returned.
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local users = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local deadline = now + tonumber(ARGV[2])
local out = {}
for _, user in ipairs(users) do
  local record = ARGV[3] .. user
  local rec = redis.call('HMGET', record, 'no', 'due')
  if not rec[1] then
    redis.call('ZREM', KEYS[1], user)
  else
    redis.call('ZADD', KEYS[1], deadline, user)
    redis.call('HSET', record, 'holder', '', 'lease', deadline)
    out[#out + 1] = user
    out[#out + 1] = rec[1]
    out[#out + 1] = rec[2]
  end
end
return out
