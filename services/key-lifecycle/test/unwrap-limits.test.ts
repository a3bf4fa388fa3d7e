// Bad input and a slow provider, end to end (real Redis, crk-wrapping, the Key
// Protect emulator over HTTP with its latency fault): a flood of Gets for
// unknown or unusable keys leaves cached keys alone; unwraps per tenant are
// bounded, the queue beyond them is bounded and answered fast when full; Gets
// of one key while it is being unwrapped share one unwrap at the provider.
import { randomUUID } from 'crypto';
import { channelCredentials, grpc, kmipReasonOf } from '@keywarden/common';
import { ObjectType, ResultReason } from '@keywarden/kmip';
import { lifecycleV1 } from '@keywarden/proto';
import type { KeyLifecycle, KeyLifecycleOptions } from '../src';
import { aesTemplate, rpc, Stack, startStack, TenantHandle } from './stack';

jest.setTimeout(60_000);

let s: Stack;
const clients: lifecycleV1.KeyLifecycleClient[] = [];

beforeAll(async () => {
  s = await startStack({ cacheTtlMs: 0 });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await s?.close();
});

afterEach(() => {
  s.emulator.faults.clear();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Outcome = { ok: true; material?: Buffer; ms: number; end: number } | { ok: false; code: number; reason?: number; message: string; ms: number; end: number };

interface Replica {
  lc: KeyLifecycle;
  get(t: TenantHandle, uid: string): Promise<Outcome>;
  metric(name: string): Promise<number>;
}

async function replica(extra: Partial<KeyLifecycleOptions>): Promise<Replica> {
  const lc = await s.startReplica({ metricsPort: 0, metricsHost: '127.0.0.1', ...extra });
  const client = new lifecycleV1.KeyLifecycleClient(`127.0.0.1:${lc.port}`, channelCredentials(s.gatewayTls));
  clients.push(client);
  return {
    lc,
    get: async (t, uid) => {
      const t0 = Date.now();
      try {
        const r = await rpc<lifecycleV1.GetResponse>(client, 'get', { caller: t.caller, uniqueIdentifier: uid }, 30_000);
        return withMaterial({ ok: true, ms: Date.now() - t0, end: Date.now() }, r.keyMaterial);
      } catch (e) {
        const err = e as grpc.ServiceError;
        return { ok: false, code: err.code, reason: kmipReasonOf(err), message: err.details, ms: Date.now() - t0, end: Date.now() };
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
  return Promise.all(Array.from({ length: n }, async () =>
    (await s.call<lifecycleV1.CreateResponse>('create', { caller: t.caller, objectType: ObjectType.SymmetricKey, attributes: aesTemplate() })).uniqueIdentifier));
}

/** Requests that reached the provider, IAM tokens aside: an unwrap is two (read the wrapped key, unwrap it). */
function providerCalls(): number {
  const st = s.emulator.stats();
  return st.requests - st.tokensIssued;
}

/**
 * Samples the provider's request counter every few ms; `most(windowMs)` is
 * the most requests that arrived within any window of that length, which,
 * with the emulator holding each request `latencyMs`, bounds how many were
 * in flight at the provider at once.
 */
function sampleArrivals() {
  const samples: Array<[number, number]> = [[Date.now(), providerCalls()]];
  const timer = setInterval(() => samples.push([Date.now(), providerCalls()]), 5);
  return {
    stop: () => clearInterval(timer),
    most(windowMs: number): number {
      let most = 0;
      let j = 0;
      for (let i = 0; i < samples.length; i++) {
        while (samples[j][0] < samples[i][0] - windowMs) j++;
        most = Math.max(most, samples[i][1] - samples[Math.max(0, j - 1)][1]);
      }
      return most;
    },
  };
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

describe('bad input', () => {
  it('a flood of Gets for unknown identifiers, or for a key the provider no longer has, neither evicts nor slows cached keys', async () => {
    const r = await replica({ cacheTtlMs: 600_000, cacheMaxEntries: 8 });
    const t = await s.addTenant();
    const uids = await createKeys(t, 9);
    const cached = uids.slice(0, 8);
    const keys = new Map<string, Buffer>();
    for (const uid of cached) keys.set(uid, material(await r.get(t, uid)));
    expect(await r.metric('keywarden_lifecycle_key_cache_entries')).toBe(8);
    const hits = await r.metric('keywarden_lifecycle_key_cache_hits_total');

    // The ninth key loses its wrapped material at the provider: its Gets fail, and failures are not cached.
    const list = (await s.keyProtect('GET', 'keys?limit=5000', t.instanceId)).body as { resources: Array<{ id: string; name: string }> };
    const gone = list.resources.find((k) => k.name === `kmip-${uids[8]}`);
    expect((await s.keyProtect('DELETE', `keys/${gone?.id}`, t.instanceId)).status).toBeLessThan(300);

    let flooding = true;
    const during: number[] = [];
    const watcher = (async () => {
      while (flooding) {
        for (const uid of cached) {
          const o = await r.get(t, uid);
          expect(same(material(o), keys.get(uid))).toBe(true);
          during.push(o.ms);
        }
      }
    })();
    const outcomes: Outcome[] = [];
    await Promise.all(Array.from({ length: 32 }, async (_w, w) => {
      for (let i = 0; i < 60; i++) outcomes.push(await r.get(t, w % 4 === 0 ? uids[8] : randomUUID()));
    }));
    flooding = false;
    await watcher;
    expect(outcomes.every((o) => !o.ok && (o.code === grpc.status.NOT_FOUND || /wrapped material was deleted/.test(o.message)))).toBe(true);
    expect(outcomes.filter((o) => !o.ok && o.code === grpc.status.NOT_FOUND)).toHaveLength(24 * 60);

    expect(await r.metric('keywarden_lifecycle_key_cache_evictions_total')).toBe(0);
    expect(await r.metric('keywarden_lifecycle_key_cache_entries')).toBe(8);
    // Not slowed: every Get of a cached key during the flood was answered from the cache, none had to unwrap.
    expect(during.length).toBeGreaterThan(8);
    expect(await r.metric('keywarden_lifecycle_key_cache_hits_total') - hits).toBe(during.length);
    // Still all in the cache: served with the provider down.
    s.emulator.faults.set({ down: true });
    for (const uid of cached) expect(same(material(await r.get(t, uid)), keys.get(uid))).toBe(true);
  });
});

describe('a slow provider', () => {
  const LATENCY = 300;

  it('gets at most the per-tenant number of unwraps at once; another tenant is not held up by the queue', async () => {
    const r = await replica({ cacheTtlMs: 600_000, unwrapConcurrency: 3, unwrapQueue: 100 });
    const [a, b] = [await s.addTenant(), await s.addTenant()];
    const [aKeys, [bKey, bWarm]] = [await createKeys(a, 13), await createKeys(b, 2)];
    // IAM tokens first, so only unwraps reach the provider below.
    material(await r.get(a, aKeys.pop() as string));
    material(await r.get(b, bWarm));

    s.emulator.faults.set({ latencyMs: LATENCY });
    const arrivals = sampleArrivals();
    const t0 = Date.now();
    const pending = aKeys.map((uid) => r.get(a, uid));
    await sleep(50);
    const other = await r.get(b, bKey);
    const results = await Promise.all(pending);
    arrivals.stop();
    for (const o of results) material(o);
    material(other);
    // Every request is held LATENCY ms by the provider, so the requests that arrive within any
    // shorter window were all in flight together: at most 3 of tenant a's and 1 of tenant b's.
    expect(arrivals.most(LATENCY / 2)).toBeLessThanOrEqual(4);
    // Twelve unwraps of two requests each, three at a time: at least four rounds.
    expect(Math.max(...results.map((o) => o.end)) - t0).toBeGreaterThanOrEqual(4 * 2 * LATENCY - 100);
    // Tenant b's unwrap did not wait for tenant a's queue.
    expect(other.ms).toBeLessThan(2 * LATENCY + 700);
  });

  it('answers a full queue at once with UNAVAILABLE and KMIP Server Limit Exceeded', async () => {
    const r = await replica({ cacheTtlMs: 600_000, unwrapConcurrency: 2, unwrapQueue: 3 });
    const t = await s.addTenant();
    const uids = await createKeys(t, 16);
    material(await r.get(t, uids.pop() as string));
    s.emulator.faults.set({ latencyMs: 2 * LATENCY });
    const results = await Promise.all(uids.map((uid) => r.get(t, uid)));
    const ok = results.filter((o) => o.ok);
    const refused = results.filter((o) => !o.ok);
    expect(ok).toHaveLength(2 + 3);
    expect(refused).toHaveLength(10);
    for (const o of refused) {
      expect(o).toMatchObject({ code: grpc.status.UNAVAILABLE, reason: ResultReason.ServerLimitExceeded, message: expect.stringMatching(/being unwrapped .* more are waiting/) });
      expect(o.ms).toBeLessThan(500);
    }
    expect(await r.metric('keywarden_lifecycle_unwraps_refused_total')).toBe(10);
  });

  it('fails a Get that waited longer than the wrapping deadline for its turn, and never hangs', async () => {
    const DEADLINE = 1500;
    const r = await replica({ cacheTtlMs: 600_000, unwrapConcurrency: 1, unwrapQueue: 10, wrappingDeadlines: { dataMs: DEADLINE, adminMs: 10_000 } });
    const t = await s.addTenant();
    const uids = await createKeys(t, 5);
    material(await r.get(t, uids.pop() as string));
    s.emulator.faults.set({ latencyMs: LATENCY + 100 }); // one unwrap: 800 ms, within the deadline
    const results = await Promise.all(uids.map((uid) => r.get(t, uid)));
    expect(results.filter((o) => o.ok)).toHaveLength(2);
    const late = results.filter((o) => !o.ok);
    expect(late).toHaveLength(2);
    for (const o of late) {
      expect(o).toMatchObject({ code: grpc.status.UNAVAILABLE, reason: ResultReason.ServerLimitExceeded, message: expect.stringContaining(`waited ${DEADLINE} ms`) });
      expect(o.ms).toBeGreaterThanOrEqual(DEADLINE - 50);
      expect(o.ms).toBeLessThan(DEADLINE + 1000);
    }
  });

  it('Gets of one key while it is being unwrapped share one unwrap at the provider (hosts rebooting together)', async () => {
    const r = await replica({ cacheTtlMs: undefined }); // the default (the stack's own key-lifecycle is strict)
    const t = await s.addTenant();
    const [uid, warm] = await createKeys(t, 2);
    material(await r.get(t, warm));
    s.emulator.faults.set({ latencyMs: LATENCY });
    const calls = providerCalls();
    const results = await Promise.all(Array.from({ length: 200 }, () => r.get(t, uid)));
    const key = material(results[0]);
    for (const o of results) expect(same(material(o), key)).toBe(true);
    expect(providerCalls() - calls).toBe(2); // one unwrap: read the wrapped key, unwrap it
    expect(await r.metric('keywarden_lifecycle_unwraps_coalesced_total')).toBeGreaterThan(0);
  });
});
