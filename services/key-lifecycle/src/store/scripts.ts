import { POSTING_LIST_MAX } from './indexes';
import { PREFIX } from './keys';

// Lua scripts: each runs atomically in Redis, so several gateways and several
// key-lifecycle replicas can update the same object at once without losing a
// write. Updates are optimistic: a script applies a change only if the
// version it was computed from is still current; the caller retries
// otherwise. On Redis Cluster every key a script touches is in one tenant's
// slot (store/keys.ts): keys it builds from a prefix are in that slot too.

/**
 * Resolves a caller in one round trip (one primary): certificate -> tenant
 * -> tenant configuration -> (optionally) the object's hash.
 * KEYS[1] certificate key; ARGV[1] uid or ''.
 * Returns nil, or { tenantId, tenantHashFlat, certNotAfter, objectHashFlat }.
 */
export const LOAD_CONTEXT = `
local t = redis.call('HGET', KEYS[1], 'tenant')
if not t then return false end
local tenant = redis.call('HGETALL', '${PREFIX}tenant:' .. t)
local na = redis.call('HGET', KEYS[1], 'notAfter') or ''
if ARGV[1] == '' then return {t, tenant, na, {}} end
return {t, tenant, na, redis.call('HGETALL', '${PREFIX}t:' .. t .. ':obj:' .. ARGV[1])}
`;

/**
 * The same on Redis Cluster, once the certificate's tenant is known: every
 * key is in the tenant's slot. KEYS[1] the certificate record in the
 * tenant's slot, KEYS[2] tenant key, KEYS[3] (optional) object key.
 * Returns nil when the certificate is not (or no longer) the tenant's.
 */
export const LOAD_CONTEXT_CLUSTER = `
local t = redis.call('HGET', KEYS[1], 'tenant')
if not t then return false end
local tenant = redis.call('HGETALL', KEYS[2])
local na = redis.call('HGET', KEYS[1], 'notAfter') or ''
if not KEYS[3] then return {t, tenant, na, {}} end
return {t, tenant, na, redis.call('HGETALL', KEYS[3])}
`;

/**
 * Writes (creates, updates or deletes) one object: the fields of its hash
 * that changed, its index entries, and the tenant's usage, atomically, and
 * only within the tenant's quotas.
 * KEYS[1] record key, KEYS[2] tenant key, KEYS[3] tenant counters, KEYS[4..]
 * index keys.
 * ARGV[1] mode create|update|delete, ARGV[2] expected version, ARGV[3] the
 * tenant's key prefix (posting bitmaps), ARGV[4..6] change of live objects,
 * destroyed objects and attribute bytes, ARGV[7..8] default objects and
 * attribute-bytes quotas (the tenant's own, in its hash, win; -1 = count
 * without refusing), ARGV[9..10] the object's custom attribute bytes before
 * and after, ARGV[11] default per-object custom quota, then: a count and
 * field/value pairs to set, a count and fields to delete, a count and per
 * op: action, key index, member, arg.
 * Actions: padd/prem (posting, member = 12-hex id, arg = oid in base 36),
 * hset/hdel (hash field = member, value = arg), sadd/srem, zadd/zrem (arg =
 * score), uset/udel (unique hash field -> uid; uset fails with
 * TAKEN:<field> when another uid holds it).
 * An increase past a quota changes nothing and returns
 * QUOTA:<name>:<limit>:<usage>; decreases always apply.
 * Returns OK, EXISTS, GONE, CONFLICT, NOTENANT, TAKEN:<field> or QUOTA:….
 */
export const WRITE_OBJECT = `
local rk, tk, mk = KEYS[1], KEYS[2], KEYS[3]
local mode = ARGV[1]
local cur = redis.call('HGET', rk, 'ver')
local t = redis.call('HMGET', tk, 'status', 'qObjects', 'qAttributeBytes', 'qObjectCustomBytes')
if t[1] ~= 'active' then return 'NOTENANT' end
if mode == 'create' then
  if cur then return 'EXISTS' end
else
  if not cur then return 'GONE' end
  if cur ~= ARGV[2] then return 'CONFLICT' end
end
local pfx = ARGV[3]
local dLive, dDead, dBytes = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if ARGV[7] ~= '-1' then
  local u = redis.call('HMGET', mk, 'live', 'ab')
  local live, bytes = tonumber(u[1] or '0'), tonumber(u[2] or '0')
  local qObj = tonumber(t[2] or ARGV[7])
  local qBytes = tonumber(t[3] or ARGV[8])
  local qCustom = tonumber(t[4] or ARGV[11])
  local cBefore, cAfter = tonumber(ARGV[9]), tonumber(ARGV[10])
  if dLive > 0 and live + dLive > qObj then return 'QUOTA:objects:' .. qObj .. ':' .. live end
  if dBytes > 0 and bytes + dBytes > qBytes then return 'QUOTA:attributeBytes:' .. qBytes .. ':' .. bytes end
  if cAfter > cBefore and cAfter > qCustom then return 'QUOTA:objectCustomBytes:' .. qCustom .. ':' .. cBefore end
end
local p = 12
local nset = tonumber(ARGV[p])
local setAt = p + 1
p = setAt + 2 * nset
local ndel = tonumber(ARGV[p])
local delAt = p + 1
p = delAt + ndel
local nops = tonumber(ARGV[p])
local opAt = p + 1
for i = 0, nops - 1 do
  local b = opAt + i * 4
  if ARGV[b] == 'uset' then
    local owner = redis.call('HGET', KEYS[tonumber(ARGV[b + 1])], ARGV[b + 2])
    if owner and owner ~= ARGV[b + 3] then return 'TAKEN:' .. ARGV[b + 2] end
  end
end
local function padd(k, id, o)
  local f = string.sub(id, 4)
  local cur = redis.call('HGET', k, f)
  if cur == '*' then redis.call('SETBIT', pfx .. 'pb:' .. id, tonumber(o, 36), 1) return end
  if not cur then redis.call('HSET', k, f, o) return end
  if string.find(',' .. cur .. ',', ',' .. o .. ',', 1, true) then return end
  local n = 1
  for _ in string.gmatch(cur, ',') do n = n + 1 end
  if n < ${POSTING_LIST_MAX} then
    redis.call('HSET', k, f, cur .. ',' .. o)
    return
  end
  local bits = pfx .. 'pb:' .. id
  for m in string.gmatch(cur, '[^,]+') do redis.call('SETBIT', bits, tonumber(m, 36), 1) end
  redis.call('SETBIT', bits, tonumber(o, 36), 1)
  redis.call('HSET', k, f, '*')
end
local function prem(k, id, o)
  local f = string.sub(id, 4)
  local cur = redis.call('HGET', k, f)
  if not cur then return end
  if cur == '*' then redis.call('SETBIT', pfx .. 'pb:' .. id, tonumber(o, 36), 0) return end
  local s = string.sub(string.gsub(',' .. cur .. ',', ',' .. o .. ',', ',', 1), 2, -2)
  if s == '' then redis.call('HDEL', k, f) else redis.call('HSET', k, f, s) end
end
for i = 0, nops - 1 do
  local b = opAt + i * 4
  local op, k, m, x = ARGV[b], KEYS[tonumber(ARGV[b + 1])], ARGV[b + 2], ARGV[b + 3]
  if op == 'padd' then padd(k, m, x)
  elseif op == 'prem' then prem(k, m, x)
  elseif op == 'hset' then redis.call('HSET', k, m, x)
  elseif op == 'hdel' then redis.call('HDEL', k, m)
  elseif op == 'sadd' then redis.call('SADD', k, m)
  elseif op == 'srem' then redis.call('SREM', k, m)
  elseif op == 'zadd' then redis.call('ZADD', k, x, m)
  elseif op == 'zrem' then redis.call('ZREM', k, m)
  elseif op == 'uset' then redis.call('HSET', k, m, x)
  elseif op == 'udel' then
    if redis.call('HGET', k, m) == x then redis.call('HDEL', k, m) end
  end
end
if mode == 'delete' then
  redis.call('DEL', rk)
else
  if nset > 0 then redis.call('HSET', rk, unpack(ARGV, setAt, setAt + 2 * nset - 1)) end
  if ndel > 0 then redis.call('HDEL', rk, unpack(ARGV, delAt, delAt + ndel - 1)) end
  redis.call('HSET', rk, 'ver', (tonumber(cur) or 0) + 1)
end
if dLive ~= 0 then redis.call('HINCRBY', mk, 'live', dLive) end
if dDead ~= 0 then redis.call('HINCRBY', mk, 'dead', dDead) end
if dBytes ~= 0 then redis.call('HINCRBY', mk, 'ab', dBytes) end
return 'OK'
`;

/**
 * Registers a certificate for a tenant; a fingerprint belongs to one tenant.
 * KEYS[1] certificate record key, KEYS[2] tenant certs set, KEYS[3] tenant
 * key. ARGV: tenant id, fingerprint, then field/value pairs.
 * Returns OK, SAME (already this tenant's), OWNED:<tenant> or NOTENANT.
 */
export const ADD_CERT = `
if redis.call('HGET', KEYS[3], 'status') ~= 'active' then return 'NOTENANT' end
local owner = redis.call('HGET', KEYS[1], 'tenant')
if owner then
  if owner == ARGV[1] then return 'SAME' end
  return 'OWNED:' .. owner
end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('SADD', KEYS[2], ARGV[2])
return 'OK'
`;

/**
 * Sets or clears a certificate's password, only while its record exists and
 * belongs to the tenant it was read for (a certificate removed, or removed
 * and registered to another tenant, since is left alone: no orphan hash with
 * only passwordHash), and announces it as a revocation (gateways end the
 * certificate's connections). KEYS[1] the certificate record (in the
 * tenant's slot on Redis Cluster). ARGV: tenant id, hash ('' = clear),
 * revocations channel, notice. Returns 1, or 0 when nothing was changed.
 */
export const SET_CERT_PASSWORD = `
if redis.call('HGET', KEYS[1], 'tenant') ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], 'passwordHash')
else
  redis.call('HSET', KEYS[1], 'passwordHash', ARGV[2])
end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`;

/**
 * Redis Cluster: claims a fingerprint for a tenant in the region-wide
 * certificate -> tenant key (its own slot), before the record is written in
 * the tenant's slot. KEYS[1] the region-wide key; ARGV[1] tenant id.
 * Returns OK, SAME or OWNED:<tenant>.
 */
export const CLAIM_CERT = `
local owner = redis.call('HGET', KEYS[1], 'tenant')
if owner then
  if owner == ARGV[1] then return 'SAME' end
  return 'OWNED:' .. owner
end
redis.call('HSET', KEYS[1], 'tenant', ARGV[1])
return 'OK'
`;

/**
 * Creates a tenant unless it exists. KEYS[1] tenant key, KEYS[2] tenants set
 * (absent on Redis Cluster, where the store adds the id itself).
 * ARGV: tenant id, then field/value pairs. Returns OK or EXISTS.
 */
export const CREATE_TENANT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 'EXISTS' end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
if KEYS[2] then redis.call('SADD', KEYS[2], ARGV[1]) end
return 'OK'
`;

/**
 * Claims a tenant's rewrap slot for a new job unless a live one holds it.
 * KEYS[1] tenant rewrap key, KEYS[2] new job key. ARGV: job id, stale-after
 * ms, now ms, prefix of job keys, then job field/value pairs. Returns OK or
 * BUSY:<job id>.
 */
export const CLAIM_REWRAP = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local st = redis.call('HMGET', ARGV[4] .. cur, 'status', 'heartbeat')
  if st[1] == 'running' and tonumber(st[2] or '0') + tonumber(ARGV[2]) > tonumber(ARGV[3]) then
    return 'BUSY:' .. cur
  end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], unpack(ARGV, 5))
return 'OK'
`;
