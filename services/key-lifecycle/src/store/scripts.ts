import { PREFIX } from './keys';

// Lua scripts: each runs atomically in Redis, so several gateways and several
// key-lifecycle replicas can update the same object at once without losing a
// write. Updates are optimistic: a script applies a new record only if the
// version it was computed from is still current; the caller retries
// otherwise. Scripts compute tenant-scoped key names from the certificate
// lookup, which needs a single Redis (or Sentinel), not Redis Cluster.

/**
 * Resolves a caller in one round trip: certificate -> tenant -> tenant
 * configuration -> (optionally) the object record.
 * KEYS[1] certificate key; ARGV[1] uid or ''.
 * Returns nil, or { tenantId, tenantHashFlat, certNotAfter, ver, rec }.
 */
export const LOAD_CONTEXT = `
local t = redis.call('HGET', KEYS[1], 'tenant')
if not t then return false end
local tenant = redis.call('HGETALL', '${PREFIX}tenant:' .. t)
local na = redis.call('HGET', KEYS[1], 'notAfter') or ''
if ARGV[1] == '' then return {t, tenant, na, '', ''} end
local r = redis.call('HMGET', '${PREFIX}t:' .. t .. ':obj:' .. ARGV[1], 'ver', 'rec')
return {t, tenant, na, r[1] or '', r[2] or ''}
`;

/**
 * Writes (creates, updates or deletes) one object record and its index
 * entries atomically.
 * KEYS[1] record key, KEYS[2] tenant key, KEYS[3..] index keys.
 * ARGV[1] mode create|update|delete, ARGV[2] expected version, ARGV[3]
 * record JSON, ARGV[4] op count, then per op: action, key index, member, arg.
 * Actions: sadd/srem (set), zadd/zrem (sorted set, arg = score), uset/udel
 * (unique hash field -> uid; uset fails with TAKEN:<field> when another uid
 * holds it).
 * Returns OK, EXISTS, GONE, CONFLICT, NOTENANT or TAKEN:<field>.
 */
export const WRITE_OBJECT = `
local rk = KEYS[1]
local mode = ARGV[1]
local cur = redis.call('HGET', rk, 'ver')
if redis.call('HGET', KEYS[2], 'status') ~= 'active' then return 'NOTENANT' end
if mode == 'create' then
  if cur then return 'EXISTS' end
else
  if not cur then return 'GONE' end
  if cur ~= ARGV[2] then return 'CONFLICT' end
end
local n = tonumber(ARGV[4])
for i = 0, n - 1 do
  local b = 5 + i * 4
  if ARGV[b] == 'uset' then
    local owner = redis.call('HGET', KEYS[tonumber(ARGV[b + 1])], ARGV[b + 2])
    if owner and owner ~= ARGV[b + 3] then return 'TAKEN:' .. ARGV[b + 2] end
  end
end
for i = 0, n - 1 do
  local b = 5 + i * 4
  local op, k, m, x = ARGV[b], KEYS[tonumber(ARGV[b + 1])], ARGV[b + 2], ARGV[b + 3]
  if op == 'sadd' then redis.call('SADD', k, m)
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
  redis.call('HSET', rk, 'ver', (tonumber(cur) or 0) + 1, 'rec', ARGV[3])
end
return 'OK'
`;

/**
 * Registers a certificate for a tenant; a fingerprint belongs to one tenant.
 * KEYS[1] cert key, KEYS[2] tenant certs set, KEYS[3] tenant key.
 * ARGV: tenant id, then field/value pairs.
 * Returns OK, SAME (already this tenant's), OWNED:<tenant> or NOTENANT.
 */
export const ADD_CERT = `
if redis.call('HGET', KEYS[3], 'status') ~= 'active' then return 'NOTENANT' end
local owner = redis.call('HGET', KEYS[1], 'tenant')
if owner then
  if owner == ARGV[1] then return 'SAME' end
  return 'OWNED:' .. owner
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('SADD', KEYS[2], string.sub(KEYS[1], ${PREFIX.length + 'cert:'.length + 1}))
return 'OK'
`;

/**
 * Creates a tenant unless it exists. KEYS[1] tenant key, KEYS[2] tenants set.
 * ARGV: tenant id, then field/value pairs. Returns OK or EXISTS.
 */
export const CREATE_TENANT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 'EXISTS' end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('SADD', KEYS[2], ARGV[1])
return 'OK'
`;

/**
 * Claims a tenant's rewrap slot for a new job unless a live one holds it.
 * KEYS[1] tenant rewrap key, KEYS[2] new job key. ARGV: job id, stale-after
 * ms, now ms, then job field/value pairs. Returns OK or BUSY:<job id>.
 */
export const CLAIM_REWRAP = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local st = redis.call('HMGET', '${PREFIX}job:' .. cur, 'status', 'heartbeat')
  if st[1] == 'running' and tonumber(st[2] or '0') + tonumber(ARGV[2]) > tonumber(ARGV[3]) then
    return 'BUSY:' .. cur
  end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], unpack(ARGV, 4))
return 'OK'
`;
