// The key cache end to end (real Redis, crk-wrapping, the Key Protect emulator
// over HTTP, key-lifecycle replicas on one Redis): what a change made in the
// provider, a change made through keywarden, a cut Redis subscription and a
// provider outage each do to Gets served from the cache; strict mode.
import Redis from 'ioredis';
import { channelCredentials, grpc, kmipReasonOf } from '@keywarden/common';
import { ObjectType, ResultReason, RevocationReasonCode, State } from '@keywarden/kmip';
import { adminV1, lifecycleV1 } from '@keywarden/proto';
import type { KeyLifecycle, KeyLifecycleOptions } from '../src';
import { aesTemplate, rpc, Stack, startStack, TenantHandle } from './stack';

jest.setTimeout(60_000);

let s: Stack;
let redis: Redis;
const clients: lifecycleV1.KeyLifecycleClient[] = [];

beforeAll(async () => {
  // The stack's own key-lifecycle (Admin API, creating keys) in strict mode; each test starts the replicas it reads through.
  s = await startStack({ cacheTtlMs: 0 });
  redis = new Redis(s.redis.url);
});

afterAll(async () => {
  for (const c of clients) c.close();
  redis?.disconnect();
  await s?.close();
});

afterEach(() => {
  s.emulator.faults.clear();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Outcome = { ok: true; material?: Buffer; ms: number } | { ok: false; code: number; reason?: number; message: string; ms: number };

interface Replica {
  lc: KeyLifecycle;
  get(t: TenantHandle | lifecycleV1.Caller, uid: string): Promise<Outcome>;
  call<Res>(method: string, req: unknown): Promise<Res>;
  /** A value from its /metrics. */
  metric(name: string): Promise<number>;
}

async function replica(extra: Partial<KeyLifecycleOptions>): Promise<Replica> {
  const lc = await s.startReplica({ metricsPort: 0, metricsHost: '127.0.0.1', ...extra });
  const client = new lifecycleV1.KeyLifecycleClient(`127.0.0.1:${lc.port}`, channelCredentials(s.gatewayTls));
  clients.push(client);
  return {
    lc,
    call: (method, req) => rpc(client, method, req),
    get: async (t, uid) => {
      const caller = 'caller' in t ? t.caller : t;
      const t0 = Date.now();
      try {
        const r = await rpc<lifecycleV1.GetResponse>(client, 'get', { caller, uniqueIdentifier: uid });
        return withMaterial({ ok: true, ms: Date.now() - t0 }, r.keyMaterial);
      } catch (e) {
        const err = e as grpc.ServiceError;
        return { ok: false, code: err.code, reason: kmipReasonOf(err), message: err.details, ms: Date.now() - t0 };
      }
    },
    metric: async (name) => {
      const text = await (await fetch(`http://127.0.0.1:${lc.metricsPort}/metrics`)).text();
      const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
      return m ? Number(m[1]) : NaN;
    },
  };
}

async function createKeys(t: TenantHandle, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    out.push((await s.call<lifecycleV1.CreateResponse>('create', { caller: t.caller, objectType: ObjectType.SymmetricKey, attributes: aesTemplate() })).uniqueIdentifier);
  }
  return out;
}

/** Requests that reached the provider, IAM tokens aside: an unwrap is two (read the wrapped key, unwrap it). */
function providerCalls(): number {
  const st = s.emulator.stats();
  return st.requests - st.tokensIssued;
}

/**
 * The key a Get returned. Kept off the outcome's enumerable fields, and
 * compared with same(), so that no failing assertion prints key material.
 */
function withMaterial<T extends object>(o: T, key: Buffer): T {
  return Object.defineProperty(o, 'material', { value: key, enumerable: false });
}

const material = (o: Outcome): Buffer => {
  if (!o.ok || !o.material) throw new Error(`expected the Get to succeed: ${o.ok ? 'no key' : o.message}`);
  return o.material;
};

const same = (a: Buffer, b: Buffer | undefined): boolean => b !== undefined && a.equals(b);

/** Gets the keys through every replica, then shows the second round is answered without the provider. */
async function cachedOn(replicas: Replica[], t: TenantHandle, uids: string[]): Promise<Map<string, Buffer>> {
  const keys = new Map<string, Buffer>();
  for (const r of replicas) for (const uid of uids) keys.set(uid, material(await r.get(t, uid)));
  const before = providerCalls();
  for (const r of replicas) for (const uid of uids) expect(same(material(await r.get(t, uid)), keys.get(uid))).toBe(true);
  expect(providerCalls()).toBe(before);
  return keys;
}

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('changes made directly in the provider take effect within the bound', () => {
  const BOUND = 2000;

  async function standardKeyId(t: TenantHandle, uid: string): Promise<string> {
    const list = (await s.keyProtect('GET', 'keys?limit=5000', t.instanceId)).body as { resources: Array<{ id: string; name: string }> };
    const k = list.resources.find((x) => x.name === `kmip-${uid}`);
    if (!k) throw new Error(`no standard key for ${uid}`);
    return k.id;
  }

  const cases: Array<[string, (t: TenantHandle, uid: string) => Promise<void>, string]> = [
    ['the key\'s wrapped material deleted', async (t, uid) => {
      expect((await s.keyProtect('DELETE', `keys/${await standardKeyId(t, uid)}`, t.instanceId)).status).toBeLessThan(300);
    }, 'wrapped material was deleted'],
    ['the tenant\'s root key deleted', async (t) => {
      expect((await s.keyProtect('DELETE', `keys/${t.crkId}?force=true`, t.instanceId)).status).toBeLessThan(300);
    }, 'root key was deleted'],
    ['the tenant\'s root key disabled', async (t) => {
      expect((await s.keyProtect('POST', `keys/${t.crkId}/actions/disable`, t.instanceId)).status).toBeLessThan(300);
    }, 'root key is disabled'],
  ];

  it.each(cases)('%s in the emulator: Gets fail within the bound + 2 s of the unwrap, though the key is used all along', async (_what, change, text) => {
    const r = await replica({ cacheTtlMs: BOUND });
    const t = await s.addTenant();
    const [uid] = await createKeys(t, 1);
    const first = material(await r.get(t, uid));
    const unwrapped = Date.now();
    const calls = providerCalls();
    expect(same(material(await r.get(t, uid)), first)).toBe(true);
    expect(providerCalls()).toBe(calls); // from the cache
    await change(t, uid);
    const changed = Date.now();
    // Asked every 100 ms: were the lifetime counted from the last use, it would never end.
    let servedAfter = 0;
    let last: Outcome;
    for (;;) {
      last = await r.get(t, uid);
      if (!last.ok || Date.now() - changed > BOUND + 3000) break;
      expect(same(material(last), first)).toBe(true);
      servedAfter++;
      await sleep(100);
    }
    const failedAt = Date.now();
    expect(last).toMatchObject({ ok: false, code: grpc.status.FAILED_PRECONDITION, message: expect.stringContaining(text) });
    expect(failedAt - changed).toBeLessThanOrEqual(BOUND + 2000);
    expect(failedAt - unwrapped).toBeLessThanOrEqual(BOUND + 2000);
    expect(servedAfter).toBeGreaterThan(0); // the cache did answer after the change, within the bound
  });
});

describe('changes made through keywarden apply at the very next Get through either replica', () => {
  const LONG = 600_000; // nothing expires during a test: only the change itself can stop the cache
  let r1: Replica;
  let r2: Replica;
  let t: TenantHandle;

  beforeEach(async () => {
    [r1, r2] = [await replica({ cacheTtlMs: LONG }), await replica({ cacheTtlMs: LONG })];
    t = await s.addTenant();
  });

  const entries = (r: Replica) => r.metric('keywarden_lifecycle_key_cache_entries');

  it('KMIP Revoke: the next Get through the other replica is not answered by the entry cached before it', async () => {
    const [uid] = await createKeys(t, 1);
    await s.call('activate', { caller: t.caller, uniqueIdentifier: uid });
    const keys = await cachedOn([r1, r2], t, [uid]);
    await r1.call('revoke', { caller: t.caller, uniqueIdentifier: uid, revocationReasonCode: RevocationReasonCode.KeyCompromise });
    const calls = providerCalls();
    // A Compromised key may still be got (KMIP 1.2, 3.22); its record changed, so the provider is asked again.
    expect(same(material(await r2.get(t, uid)), keys.get(uid))).toBe(true);
    expect(providerCalls() - calls).toBe(2);
    const state = await r2.call<lifecycleV1.GetAttributesResponse>('getAttributes', { caller: t.caller, uniqueIdentifier: uid, attributeNames: ['State'] });
    expect(state.attributes[0]?.value?.enumeration).toBe(State.Compromised);
  });

  it('KMIP Destroy: the next Get through either replica fails, and both drop the key', async () => {
    const [uid, other] = await createKeys(t, 2);
    await cachedOn([r1, r2], t, [uid, other]);
    expect([await entries(r1), await entries(r2)]).toEqual([2, 2]);
    await r1.call('destroy', { caller: t.caller, uniqueIdentifier: uid });
    for (const r of [r2, r1]) {
      expect(await r.get(t, uid)).toMatchObject({ ok: false, code: grpc.status.FAILED_PRECONDITION, reason: ResultReason.ObjectDestroyed, message: expect.stringContaining('destroyed') });
    }
    await until('both replicas dropped the destroyed key', async () => (await entries(r1)) === 1 && (await entries(r2)) === 1, 2000);
    const calls = providerCalls();
    expect((await r2.get(t, other)).ok).toBe(true); // the tenant's other key is still cached
    expect(providerCalls()).toBe(calls);
  });

  it('Admin RemoveCertificate: the removed certificate is refused at once through either replica', async () => {
    const [uid] = await createKeys(t, 1);
    const second = await s.addClient(t.id);
    await cachedOn([r1, r2], t, [uid]);
    await s.adm('removeCertificate', { fingerprint: t.caller.certFingerprint });
    for (const r of [r2, r1]) {
      expect(await r.get(t, uid)).toMatchObject({ ok: false, code: grpc.status.PERMISSION_DENIED, message: expect.stringContaining('not registered') });
    }
    // The tenant's other certificate is still served (its access did not change).
    expect((await r2.get(second, uid)).ok).toBe(true);
  });

  it('Admin DeleteTenant: every Get fails at once through either replica, and both drop the tenant\'s keys', async () => {
    const uids = await createKeys(t, 2);
    await cachedOn([r1, r2], t, uids);
    await s.adm('deleteTenant', { tenantId: t.id, confirmTenantId: t.id });
    for (const r of [r2, r1]) for (const uid of uids) {
      expect(await r.get(t, uid)).toMatchObject({ ok: false, code: grpc.status.PERMISSION_DENIED });
    }
    await until('both replicas dropped the tenant', async () => (await entries(r1)) === 0 && (await entries(r2)) === 0, 2000);
  });

  it('Admin ShredRootKey: every Get fails at once through either replica, and both drop the tenant\'s keys', async () => {
    const uids = await createKeys(t, 2);
    await cachedOn([r1, r2], t, uids);
    await s.adm('shredRootKey', { tenantId: t.id, confirmTenantId: t.id });
    for (const r of [r2, r1]) for (const uid of uids) {
      expect(await r.get(t, uid)).toMatchObject({ ok: false, code: grpc.status.FAILED_PRECONDITION, reason: ResultReason.PermissionDenied, message: expect.stringContaining('crypto-shredded') });
    }
    await until('both replicas dropped the tenant', async () => (await entries(r1)) === 0 && (await entries(r2)) === 0, 2000);
  });

  it('Admin RotateRootKey: both replicas drop the tenant\'s keys, so the next Get moves each to the new version', async () => {
    const [uid] = await createKeys(t, 1);
    const keys = await cachedOn([r1, r2], t, [uid]);
    const rotated = await s.adm<adminV1.RootKeyStatus>('rotateRootKey', { tenantId: t.id });
    await until('both replicas dropped the tenant', async () => (await entries(r1)) === 0 && (await entries(r2)) === 0, 2000);
    const calls = providerCalls();
    expect(same(material(await r2.get(t, uid)), keys.get(uid))).toBe(true);
    expect(providerCalls() - calls).toBeGreaterThanOrEqual(2); // unwrapped again (and the rewrapped reference stored)
    await until('the key is on the new version', async () =>
      (await s.adm<adminV1.KeyInfo>('getKey', { tenantId: t.id, uniqueIdentifier: uid })).crkVersion === rotated.currentVersion, 5000);
  });
});

describe('a replica whose Redis subscription is cut', () => {
  /** Redis ids of the key-lifecycle subscriber connections. */
  async function subscriberIds(): Promise<Set<string>> {
    const list = (await redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
    return new Set(list.split('\n').filter((l) => l.includes('name=key-lifecycle:subscriber')).map((l) => /\bid=(\d+)/.exec(l)?.[1] ?? ''));
  }

  it('serves no cached key from the cut until it has resubscribed, then starts again from empty', async () => {
    const before = await subscriberIds();
    const r = await replica({ cacheTtlMs: 600_000, wrappingDeadlines: { dataMs: 2000, adminMs: 10_000 } });
    const [subId] = [...(await subscriberIds())].filter((id) => !before.has(id));
    expect(subId).toBeDefined();
    const t = await s.addTenant();
    const [uid] = await createKeys(t, 1);
    const key = material(await r.get(t, uid));

    s.emulator.faults.set({ down: true });
    expect(same(material(await r.get(t, uid)), key)).toBe(true); // provider down: served from the cache

    // Cut its subscription and keep it from coming back for a while: Redis refuses new connections.
    const maxclients = ((await redis.config('GET', 'maxclients')) as string[])[1];
    await redis.config('SET', 'maxclients', '1');
    try {
      expect(Number(await redis.client('KILL', 'ID', subId))).toBe(1);
      await until('the replica noticed', async () => (await r.metric('keywarden_lifecycle_key_cache_serving')) === 0, 2000);
      const cutAt = Date.now();
      let gets = 0;
      while (Date.now() - cutAt < 1500) {
        const o = await r.get(t, uid);
        expect(o).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE, message: expect.stringContaining('key provider is unavailable') });
        gets++;
        await sleep(100);
      }
      expect(gets).toBeGreaterThan(2);
    } finally {
      await redis.config('SET', 'maxclients', maxclients);
    }
    await until('resubscribed', async () => (await r.metric('keywarden_lifecycle_key_cache_serving')) === 1);
    // Back, but the cache was cleared: what it held may have been invalidated meanwhile.
    expect(await r.get(t, uid)).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
    expect(await r.metric('keywarden_lifecycle_key_cache_entries')).toBe(0);

    // With the provider back the cache fills again, and serves through the next outage.
    s.emulator.faults.clear();
    await until('the provider answers again', async () => (await r.get(t, uid)).ok, 15_000);
    s.emulator.faults.set({ down: true });
    expect(same(material(await r.get(t, uid)), key)).toBe(true);
  });
});

describe('while the provider is down', () => {
  it('keys unwrapped within the bound are served; a key never fetched, and then every key, fail clearly and fast', async () => {
    const BOUND = 2500;
    const DEADLINE = 2000;
    const r = await replica({ cacheTtlMs: BOUND, wrappingDeadlines: { dataMs: DEADLINE, adminMs: 10_000 } });
    const t = await s.addTenant();
    const [fetched, never] = await createKeys(t, 2);
    const key = material(await r.get(t, fetched));
    const unwrapped = Date.now();
    s.emulator.faults.set({ down: true });
    const served = await r.get(t, fetched);
    expect(same(material(served), key)).toBe(true);
    expect(served.ms).toBeLessThan(500);
    const unavailable = { ok: false, code: grpc.status.UNAVAILABLE, message: 'unwrapping the key: the key provider is unavailable; retry later' };
    const first = await r.get(t, never);
    expect(first).toMatchObject(unavailable);
    expect(first.ms).toBeLessThan(DEADLINE + 1000);
    // Past the bound the cached key fails the same way: no answer from beyond it, and no hang.
    let last: Outcome;
    do {
      last = await r.get(t, fetched);
      expect(last.ms).toBeLessThan(DEADLINE + 1000);
      if (last.ok) {
        expect(Date.now() - unwrapped).toBeLessThan(BOUND + 200);
        await sleep(100);
      }
    } while (last.ok);
    expect(last).toMatchObject(unavailable);
    expect(Date.now() - unwrapped).toBeLessThan(BOUND + DEADLINE + 1500);
    for (let i = 0; i < 5; i++) {
      const o = await r.get(t, i % 2 ? fetched : never);
      expect(o).toMatchObject(unavailable);
      expect(o.ms).toBeLessThan(DEADLINE + 1000);
    }
  });
});

describe('strict mode (LIFECYCLE_CACHE_TTL_MS=0)', () => {
  it('never serves from the cache: every Get unwraps at the provider, and with the provider down every Get fails', async () => {
    const r = await replica({ cacheTtlMs: 0, wrappingDeadlines: { dataMs: 2000, adminMs: 10_000 } });
    const t = await s.addTenant();
    const [uid] = await createKeys(t, 1);
    const key = material(await r.get(t, uid));
    let calls = providerCalls();
    for (let i = 0; i < 5; i++) expect(same(material(await r.get(t, uid)), key)).toBe(true);
    expect(providerCalls() - calls).toBe(5 * 2);
    // Concurrent Gets do not share an unwrap either: each asks the provider itself.
    calls = providerCalls();
    const together = await Promise.all(Array.from({ length: 6 }, () => r.get(t, uid)));
    for (const o of together) expect(same(material(o), key)).toBe(true);
    expect(providerCalls() - calls).toBe(6 * 2);
    expect(await r.metric('keywarden_lifecycle_key_cache_entries')).toBe(0);
    s.emulator.faults.set({ down: true });
    for (let i = 0; i < 3; i++) expect(await r.get(t, uid)).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
  });
});
