package redis

import goredis "github.com/redis/go-redis/v9"

// Scripts run with EVALSHA (one command per call), falling back to EVAL
// when Redis lost its script cache (a restart).

// luaEpoch is shared by the scripts that read or create a channel's epoch.
// Replication is asynchronous: a replica promoted by a failover (Sentinel,
// Cluster, REPLICAOF NO ONE) may lack the old master's last acknowledged
// writes, which subscribers may already have received, and reusing their
// offsets in the same epoch would make those subscribers drop the new
// publications as duplicates. The meta keeps the replication id of the
// master that last wrote it ('r'). A master that was promoted (it has a
// previous replication id) ends the epoch of meta written under another
// id: current_epoch then deletes meta and history and returns nil, and the
// caller starts a new epoch. A restart with persistence changes the id but
// leaves no previous one, so it keeps epochs; so does a slot migrated
// between Cluster masters that were never promoted.
//
// current_epoch returns the epoch (or nil), this master's replication id,
// which the caller records in the meta as 'r', and the id the meta holds
// now, so that a caller writes 'r' only when it changes.
const luaEpoch = `
local function current_epoch(meta, history)
  local repl = redis.call('info', 'replication')
  local replid = string.match(repl, 'master_replid:(%x+)')
  local cur = redis.call('hmget', meta, 'e', 'r')
  local epoch, recorded = cur[1], cur[2]
  if epoch and string.match(repl, 'master_replid2:(%x+)') ~= string.rep('0', 40)
      and recorded ~= replid then
    redis.call('del', meta, history)
    epoch, recorded = nil, nil
  end
  return epoch, replid, recorded
end
`

// publishScript is Publish's one atomic step (offset, append, trim,
// expire, publish), so history and live delivery never disagree. The epoch is created once, with the caller's random
// value, when the meta is missing — first publication, expiry, data loss
// such as FLUSHALL, or a failover since the last write (luaEpoch) — and
// stale history is dropped with it so stream ids stay increasing.
//
// With a third key, the idempotency key, a publication already made with
// it is answered from the key (with a third element, 1) and nothing is
// appended or published; else
// the key remembers "offset:epoch" for the idempotency window. Checking it
// here, not before the script, is what makes a retry after a lost reply
// safe: two publishes with one key can never both append.
//
// KEYS: meta, history[, idempotency key]. ARGV: topic, data, info ("" for
// none), history size, history TTL ms, meta TTL ms, new epoch, publish
// command ("publish" or "spublish"), idempotency window ms.
var publishScript = goredis.NewScript(luaEpoch + `
if KEYS[3] then
  local prev = redis.call('get', KEYS[3])
  if prev then
    local o, e = string.match(prev, '^(%d+):(.*)$')
    return {tonumber(o), e, 1}
  end
end
local epoch, replid, recorded = current_epoch(KEYS[1], KEYS[2])
if not epoch then
  epoch = ARGV[7]
  redis.call('hset', KEYS[1], 'e', epoch)
  redis.call('del', KEYS[2])
end
if recorded ~= replid then
  redis.call('hset', KEYS[1], 'r', replid)
end
local offset = redis.call('hincrby', KEYS[1], 'o', 1)
redis.call('pexpire', KEYS[1], ARGV[6])
local size = tonumber(ARGV[4])
if size > 0 then
  redis.call('xadd', KEYS[2], 'maxlen', size, offset .. '-0', 'd', ARGV[2], 'i', ARGV[3])
  redis.call('pexpire', KEYS[2], ARGV[5])
else
  redis.call('del', KEYS[2])
end
local msg = 'p{"o":' .. offset .. ',"e":"' .. epoch .. '","d":' .. ARGV[2]
if ARGV[3] ~= '' then
  msg = msg .. ',"i":' .. ARGV[3]
end
redis.call(ARGV[8], ARGV[1], msg .. '}')
if KEYS[3] then
  redis.call('set', KEYS[3], offset .. ':' .. epoch, 'px', ARGV[9])
end
return {offset, epoch}
`)

// historyScript reads the position and a range of history together. A
// channel without meta gets one (fresh epoch, offset 0, meta TTL) so that
// its epoch is stable across calls.
//
// KEYS: meta, history. ARGV: new epoch, meta TTL ms, range command
// ("xrange", "xrevrange", or "" for none), start id, end id, count (<0:
// all).
var historyScript = goredis.NewScript(luaEpoch + `
local epoch, replid = current_epoch(KEYS[1], KEYS[2])
if not epoch then
  epoch = ARGV[1]
  redis.call('hset', KEYS[1], 'e', epoch, 'o', 0, 'r', replid)
  redis.call('pexpire', KEYS[1], ARGV[2])
  redis.call('del', KEYS[2])
end
local offset = redis.call('hget', KEYS[1], 'o') or '0'
if ARGV[3] == '' then
  return {epoch, offset, {}}
end
local entries
if tonumber(ARGV[6]) >= 0 then
  entries = redis.call(ARGV[3], KEYS[2], ARGV[4], ARGV[5], 'count', ARGV[6])
else
  entries = redis.call(ARGV[3], KEYS[2], ARGV[4], ARGV[5])
end
return {epoch, offset, entries}
`)

// luaNowMs and luaClean are shared by the TTL'd sets below: a hash of
// member → value and a sorted set of member → expiry (ms, Redis clock).
// Redis 7.0 has no per-field hash TTL.
const luaNowMs = `
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function clean(h, z)
  local expired = redis.call('zrangebyscore', z, '-inf', now)
  for _, m in ipairs(expired) do
    redis.call('hdel', h, m)
  end
  if #expired > 0 then
    redis.call('zremrangebyscore', z, '-inf', now)
  end
end
`

// addTTLScript adds or refreshes one member, and keeps the whole keys
// alive at least ttl.
//
// KEYS: hash, zset. ARGV: member, value, ttl ms.
var addTTLScript = goredis.NewScript(luaNowMs + `
local ttl = tonumber(ARGV[3])
clean(KEYS[1], KEYS[2])
redis.call('zadd', KEYS[2], now + ttl, ARGV[1])
redis.call('hset', KEYS[1], ARGV[1], ARGV[2])
if redis.call('pttl', KEYS[1]) < ttl then
  redis.call('pexpire', KEYS[1], ttl)
end
if redis.call('pttl', KEYS[2]) < ttl then
  redis.call('pexpire', KEYS[2], ttl)
end
return 1
`)

// readTTLScript drops expired members and returns the live values as a
// flat member, value list.
//
// KEYS: hash, zset.
var readTTLScript = goredis.NewScript(luaNowMs + `
clean(KEYS[1], KEYS[2])
return redis.call('hgetall', KEYS[1])
`)

// reportChannelsScript replaces a node's channel counts.
//
// KEYS: the node's counts hash, the zset of reporting nodes. ARGV: node
// id, ttl ms, then channel, count pairs.
var reportChannelsScript = goredis.NewScript(luaNowMs + `
local ttl = tonumber(ARGV[2])
redis.call('del', KEYS[1])
for i = 3, #ARGV, 2 do
  redis.call('hset', KEYS[1], ARGV[i], ARGV[i + 1])
end
if #ARGV > 2 then
  redis.call('pexpire', KEYS[1], ttl)
end
redis.call('zadd', KEYS[2], now + ttl, ARGV[1])
if redis.call('pttl', KEYS[2]) < ttl then
  redis.call('pexpire', KEYS[2], ttl)
end
return 1
`)

// channelsScript returns the counts of every live reporting node as a flat
// channel, count list (repeated channels are summed by the caller).
//
// KEYS: the zset of reporting nodes. ARGV: the counts hash prefix.
var channelsScript = goredis.NewScript(luaNowMs + `
local expired = redis.call('zrangebyscore', KEYS[1], '-inf', now)
for _, id in ipairs(expired) do
  redis.call('del', ARGV[1] .. id)
end
if #expired > 0 then
  redis.call('zremrangebyscore', KEYS[1], '-inf', now)
end
local out = {}
for _, id in ipairs(redis.call('zrange', KEYS[1], 0, -1)) do
  local kv = redis.call('hgetall', ARGV[1] .. id)
  for i = 1, #kv do
    out[#out + 1] = kv[i]
  end
end
return out
`)

// revokeScript sets a revocation mark; a second mark keeps the later
// `before` and the later expiry, so a revocation is never shortened.
//
// KEYS: the mark. ARGV: before (Unix ns), ttl ms.
var revokeScript = goredis.NewScript(`
local cur = redis.call('get', KEYS[1])
local ttl = tonumber(ARGV[2])
local pttl = redis.call('pttl', KEYS[1])
if cur and tonumber(cur) > tonumber(ARGV[1]) then
  if pttl < ttl then
    redis.call('pexpire', KEYS[1], ttl)
  end
  return 0
end
redis.call('set', KEYS[1], ARGV[1], 'px', math.max(ttl, pttl))
return 1
`)
