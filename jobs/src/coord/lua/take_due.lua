-- KEYS[1] schedule zset, KEYS[2] inflight zset, KEYS[3] cycle-number hash.
-- ARGV now_ms (scheduler clock), limit, claim_timeout_ms, cycle-record key prefix.
-- Moves due users from the schedule to in flight, each with its next cycle number.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
local t = redis.call('TIME')
local deadline = t[1] * 1000 + math.floor(t[2] / 1000) + tonumber(ARGV[3])
local out = {}
for i = 1, #due, 2 do
  local user, due_at = due[i], due[i + 1]
  redis.call('ZREM', KEYS[1], user)
  local number = redis.call('HINCRBY', KEYS[3], user, 1)
  redis.call('ZADD', KEYS[2], deadline, user)
  local record = ARGV[4] .. user
  redis.call('DEL', record)
  redis.call('HSET', record, 'no', number, 'holder', '', 'lease', deadline, 'due', due_at)
  out[#out + 1] = user
  out[#out + 1] = tostring(number)
  out[#out + 1] = due_at
end
return out
