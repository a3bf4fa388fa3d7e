import { randomBytes, randomUUID } from 'crypto';
import { performance } from 'perf_hooks';
import { grpc } from '@keywarden/common';
import { Emulator, startEmulator } from '@keywarden/keyprotect-emulator';
import type { WrappingMetrics } from '../src/metrics';
import type { ProviderRegistry } from '../src/providers/registry';
import type { KeyContext, WrapProvider } from '../src/providers/types';
import { ctx, failure, kpProvider, median, newInstance, registry, TEST_RESILIENCE } from './helpers';

// Retries, IAM token handling and the circuit breaker, against the emulator's
// real fault injection.

const API_KEY = 'resilience-key';
const key = (): KeyContext => ({ tenantId: 't-res', uid: randomUUID() });

async function counter(metrics: WrappingMetrics, name: 'requests' | 'tokenRefreshes', labels: Record<string, string>): Promise<number> {
  const m = await metrics[name].get();
  return m.values.filter((v) => Object.entries(labels).every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val)).reduce((a, v) => a + v.value, 0);
}

describe('retries and IAM tokens', () => {
  let emu: Emulator;
  let providers: ProviderRegistry;
  let metrics: WrappingMetrics;
  let p: WrapProvider;
  let crk: string;
  const instance = randomUUID();

  beforeAll(async () => {
    emu = await startEmulator({ apiKeys: [API_KEY], instances: [instance] });
    // A breaker that never opens here: these tests count attempts.
    ({ providers, metrics } = registry({ breaker: { ...TEST_RESILIENCE.breaker, volumeThreshold: 10_000 } }));
    p = providers.get(kpProvider(emu.url, instance));
    crk = (await p.createRootKey(ctx('', API_KEY), 'retry-crk')).crkId;
  });
  afterAll(async () => {
    providers.close();
    await emu.close();
  });
  afterEach(() => emu.faults.clear());

  const requestsDuring = async (fn: () => Promise<unknown>): Promise<number> => {
    const before = emu.stats().requests;
    await fn();
    return emu.stats().requests - before;
  };

  it('retries an idempotent call on 503 up to maxAttempts, then fails UNAVAILABLE', async () => {
    const k = key();
    const s = await p.seal(ctx(crk, API_KEY), k, randomBytes(32));
    emu.faults.set({ errorRate: 1, errorStatus: 503 });
    let f: Awaited<ReturnType<typeof failure>> | undefined;
    const n = await requestsDuring(async () => { f = await failure(p.unseal(ctx(crk, API_KEY), k, s.ref)); });
    expect(n).toBe(TEST_RESILIENCE.retry.maxAttempts);
    expect(f).toMatchObject({ code: grpc.status.UNAVAILABLE, reason: 'PROVIDER_UNAVAILABLE' });
    expect(f?.message).toMatch(/HTTP 503/);
  });

  it('recovers when a transient 502 clears between attempts', async () => {
    const r = registry({ retry: { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 400 }, breaker: { ...TEST_RESILIENCE.breaker, volumeThreshold: 10_000 } });
    try {
      const q = r.providers.get(kpProvider(emu.url, instance));
      const k = key();
      const s = await q.seal(ctx(crk, API_KEY), k, randomBytes(32));
      emu.faults.set({ errorRate: 1, errorStatus: 502 });
      const before = emu.stats().requests;
      const pending = q.unseal(ctx(crk, API_KEY), k, s.ref);
      setTimeout(() => emu.faults.clear(), 30); // the first retry comes at least 100 ms later
      expect((await pending).plaintext).toHaveLength(32);
      expect(emu.stats().requests - before).toBe(3); // failed GET, retried GET, unwrap
    } finally {
      r.providers.close();
    }
  });

  it('does not retry calls that are not idempotent (rotate), nor 501', async () => {
    emu.faults.set({ errorRate: 1, errorStatus: 503 });
    expect(await requestsDuring(() => failure(p.rotateRootKey(ctx(crk, API_KEY))))).toBe(1);
    emu.faults.set({ errorRate: 1, errorStatus: 501 });
    let f: Awaited<ReturnType<typeof failure>> | undefined;
    expect(await requestsDuring(async () => { f = await failure(p.checkRootKey(ctx(crk, API_KEY))); })).toBe(1);
    expect(f?.reason).toBe('PROVIDER_REJECTED');
  });

  it('answers RESOURCE_EXHAUSTED after retried 429s, and waits for Retry-After', async () => {
    emu.faults.set({ errorRate: 1, errorStatus: 429 });
    let f: Awaited<ReturnType<typeof failure>> | undefined;
    expect(await requestsDuring(async () => { f = await failure(p.checkRootKey(ctx(crk, API_KEY))); })).toBe(3);
    expect(f).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED, reason: 'RATE_LIMITED' });

    emu.faults.clear();
    const patient = registry({ retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 2_000 }, breaker: { ...TEST_RESILIENCE.breaker, volumeThreshold: 10_000 } });
    try {
      const pp = patient.providers.get(kpProvider(emu.url, instance));
      await pp.checkRootKey(ctx(crk, API_KEY)); // token first
      emu.faults.set({ errorRate: 1, errorStatus: 429, retryAfterSeconds: 1 });
      const t = Date.now();
      expect((await failure(pp.checkRootKey(ctx(crk, API_KEY)))).reason).toBe('RATE_LIMITED');
      expect(Date.now() - t).toBeGreaterThanOrEqual(950);
    } finally {
      patient.providers.close();
    }
  });

  it('handles a token that expires mid-run: 401, one refresh, the call succeeds', async () => {
    const k = key();
    const s = await p.seal(ctx(crk, API_KEY), k, randomBytes(32));
    const issued = emu.stats().tokensIssued;
    const unauthorized = await counter(metrics, 'requests', { status: '401' });
    emu.expireTokens();
    expect((await p.unseal(ctx(crk, API_KEY), k, s.ref)).plaintext).toHaveLength(32);
    expect(emu.stats().tokensIssued - issued).toBe(1);
    expect(await counter(metrics, 'requests', { status: '401' })).toBe(unauthorized + 1);
  });

  it('refreshes a token before it expires, with one refresh in flight for concurrent calls', async () => {
    const shortLived = await startEmulator({ apiKeys: [API_KEY], tokenTtlSeconds: 1 });
    const r = registry();
    try {
      const sp = r.providers.get(kpProvider(shortLived.url, newInstance(shortLived)));
      const root = (await sp.createRootKey(ctx('', API_KEY), 'short')).crkId;
      expect(shortLived.stats().tokensIssued).toBe(1);
      const k = key();
      const s = await sp.seal(ctx(root, API_KEY), k, randomBytes(32));
      // Refresh is due half-way through a 1 s token: 20 concurrent calls, one token request.
      await new Promise((res) => setTimeout(res, 600));
      await Promise.all(Array.from({ length: 20 }, () => sp.unseal(ctx(root, API_KEY), k, s.ref)));
      expect(shortLived.stats().tokensIssued).toBe(2);
      expect(await counter(r.metrics, 'requests', { status: '401' })).toBe(0);
    } finally {
      r.providers.close();
      await shortLived.close();
    }
  });

  it('keeps using a still-valid token while its refresh hangs on a slow IAM, and refreshes once IAM answers', async () => {
    const emu4 = await startEmulator({ apiKeys: [API_KEY], tokenTtlSeconds: 4 });
    const r = registry();
    try {
      const sp = r.providers.get(kpProvider(emu4.url, newInstance(emu4)));
      const root = (await sp.createRootKey(ctx('', API_KEY), 'iam-slow')).crkId;
      const k = key();
      const s = await sp.seal(ctx(root, API_KEY), k, randomBytes(32));
      await new Promise((res) => setTimeout(res, 2_200)); // past the refresh point (half of 4 s), token valid until 4 s
      emu4.faults.set({ latencyMs: 5_000, scope: 'iam' }); // IAM hangs; Key Protect itself is fine
      // Served with the old token; a refresh that waited for IAM would outlive the token (3 x 1 s attempts) and fail.
      expect((await sp.unseal(ctx(root, API_KEY), k, s.ref)).plaintext).toHaveLength(32);
      expect(emu4.stats().tokensIssued).toBe(1);
      emu4.faults.clear(); // IAM answers again: a retry of the background refresh gets the new token
      await new Promise((res) => setTimeout(res, 3_100)); // the first token has expired by now
      expect((await sp.unseal(ctx(root, API_KEY), k, s.ref)).plaintext).toHaveLength(32);
      expect(emu4.stats().tokensIssued).toBeGreaterThanOrEqual(2);
      expect(await counter(r.metrics, 'requests', { status: '401' })).toBe(0);
    } finally {
      r.providers.close();
      await emu4.close();
    }
  }, 30_000);
});

describe('circuit breaker', () => {
  let emu: Emulator;
  let providers: ProviderRegistry;
  let p: WrapProvider;
  let crk: string;
  const k = key();
  let sealed: Buffer;
  let instance0: string;
  const name = () => `keyprotect ${new URL(emu.url).host} instance ${instance0}`;

  beforeAll(async () => {
    emu = await startEmulator({ apiKeys: [API_KEY] });
    ({ providers } = registry());
    instance0 = newInstance(emu);
    p = providers.get(kpProvider(emu.url, instance0));
    crk = (await p.createRootKey(ctx('', API_KEY), 'breaker-crk')).crkId;
    sealed = (await p.seal(ctx(crk, API_KEY), k, randomBytes(32))).ref;
  });
  afterAll(async () => {
    providers.close();
    await emu.close();
  });

  it('definitive answers (AAD mismatch, missing key) do not trip it', async () => {
    for (let i = 0; i < 10; i++) expect((await failure(p.unseal(ctx(crk, API_KEY), key(), sealed))).reason).toBe('AAD_MISMATCH');
    expect(providers.breakers()[name()]).toBe('closed');
  });

  it('opens when the provider is down, fails fast, probes half-open, and closes on recovery', async () => {
    emu.faults.set({ down: true });
    const seen: string[] = [];
    for (let i = 0; i < 10 && providers.breakers()[name()] !== 'open'; i++) seen.push((await failure(p.unseal(ctx(crk, API_KEY), k, sealed))).reason);
    expect(seen[0]).toBe('PROVIDER_UNAVAILABLE');
    expect(providers.breakers()[name()]).toBe('open');

    // Open: no request leaves, every call fails at once.
    const before = emu.stats().requests;
    const times: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      const f = await failure(p.unseal(ctx(crk, API_KEY), k, sealed));
      times.push(performance.now() - t);
      expect(f).toMatchObject({ code: grpc.status.UNAVAILABLE, reason: 'BREAKER_OPEN' });
      expect(f.message).toMatch(/circuit breaker is open/);
    }
    expect(emu.stats().requests).toBe(before);
    expect(median(times)).toBeLessThan(5);

    // Half-open after resetTimeout: one probe; still down, so open again.
    await new Promise((r) => setTimeout(r, TEST_RESILIENCE.breaker.resetTimeoutMs + 50));
    expect(providers.breakers()[name()]).toBe('half-open');
    expect((await failure(p.unseal(ctx(crk, API_KEY), k, sealed))).reason).toBe('PROVIDER_UNAVAILABLE');
    expect(providers.breakers()[name()]).toBe('open');

    // Recovered: the next probe succeeds and closes it.
    emu.faults.clear();
    await new Promise((r) => setTimeout(r, TEST_RESILIENCE.breaker.resetTimeoutMs + 50));
    expect((await p.unseal(ctx(crk, API_KEY), k, sealed)).plaintext).toHaveLength(32);
    expect(providers.breakers()[name()]).toBe('closed');
  });

  it('opens on a failing provider (5xx) as well (a fresh instance: its own breaker)', async () => {
    const instance = newInstance(emu);
    const q = providers.get(kpProvider(emu.url, instance));
    const root = (await q.createRootKey(ctx('', API_KEY), 'breaker-5xx')).crkId;
    const s = (await q.seal(ctx(root, API_KEY), k, randomBytes(32))).ref;
    const own = () => providers.breakers()[`keyprotect ${new URL(emu.url).host} instance ${instance}`];
    emu.faults.set({ errorRate: 1, errorStatus: 500 });
    try {
      for (let i = 0; i < 10 && own() !== 'open'; i++) expect((await failure(q.unseal(ctx(root, API_KEY), k, s))).code).toBe(grpc.status.UNAVAILABLE);
      expect(own()).toBe('open');
      expect(providers.breakers()[name()]).toBe('closed'); // the other instance is unaffected
    } finally {
      emu.faults.clear();
    }
    await new Promise((r) => setTimeout(r, TEST_RESILIENCE.breaker.resetTimeoutMs + 50));
    expect((await q.unseal(ctx(root, API_KEY), k, s)).plaintext).toHaveLength(32);
    expect(own()).toBe('closed');
  });
});
