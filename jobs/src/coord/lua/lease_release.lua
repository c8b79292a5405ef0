-- KEYS[1] lease hash; ARGV holder. Only the holder releases.
if redis.call('HGET', KEYS[1], 'holder') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
