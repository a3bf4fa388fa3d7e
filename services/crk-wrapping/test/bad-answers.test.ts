import { randomBytes, randomUUID } from 'crypto';
import { grpc } from '@keywarden/common';
import { Corruption, Emulator, startEmulator } from '@keywarden/keyprotect-emulator';
import type { ProviderRegistry } from '../src/providers/registry';
import type { KeyContext } from '../src/providers/types';
import { ctx, failure, kpProvider, newInstance, registry, TEST_RESILIENCE } from './helpers';

// Answers no Key Protect would send: not JSON, larger than crk-wrapping
// reads, cut off, dripping, without the fields the call needs or with fields
// of the wrong types. Each gives a clear provider error within a bounded
// time, stores nothing, and counts as a failure in the endpoint's breaker.

const API_KEY = 'bad-answers-key';
const key = (): KeyContext => ({ tenantId: 'tenant-bad', uid: randomUUID() });
/** Opens after three failed attempts: one call's worth. */
const BREAKER = { ...TEST_RESILIENCE.breaker, volumeThreshold: 3, resetTimeoutMs: 60_000 };
/** Attempts × per-attempt timeout, plus backoff and slack on a shared machine. */
const BOUND_MS = TEST_RESILIENCE.retry.maxAttempts * TEST_RESILIENCE.callTimeoutMs + 2_000;

const CASES: Array<[Corruption, string, RegExp]> = [
  ['json', 'PROVIDER_ERROR', /unusable answer to the request to wrap the key: it answered HTTP 200 with a body that is not JSON/],
  ['huge', 'PROVIDER_ERROR', /unusable answer .* more than 4194304 bytes/],
  ['fields', 'PROVIDER_ERROR', /unusable answer .* JSON that has no base64 ciphertext/],
  ['types', 'PROVIDER_ERROR', /unusable answer .* JSON that has no base64 ciphertext/],
  ['truncate', 'PROVIDER_UNAVAILABLE', /the answer \(HTTP 200\) was cut off after \d+ bytes/],
  ['drip', 'PROVIDER_UNAVAILABLE', /timed out after \d+ ms/],
];

describe('unusable provider answers', () => {
  let emu: Emulator;
  let providers: ProviderRegistry;

  beforeAll(async () => {
    emu = await startEmulator({ apiKeys: [API_KEY] });
    ({ providers } = registry({ breaker: BREAKER }));
  });
  afterAll(async () => {
    providers.close();
    await emu.close();
  });
  afterEach(() => emu.faults.clear());

  const breakerOf = (instance: string) => providers.breakers()[`keyprotect ${new URL(emu.url).host} instance ${instance}`];

  it.each(CASES)('a wrap answer that is %s: %s, bounded, nothing stored, counted by the breaker', async (corrupt, reason, message) => {
    const instance = newInstance(emu);
    const p = providers.get(kpProvider(emu.url, instance));
    const crk = (await p.createRootKey(ctx('', API_KEY), 'bad-crk')).crkId;
    emu.faults.set({ corrupt, match: 'actions/wrap' });
    const t = Date.now();
    const f = await failure(p.seal(ctx(crk, API_KEY, 20_000), key(), randomBytes(32)));
    expect(Date.now() - t).toBeLessThan(BOUND_MS);
    expect(f.reason).toBe(reason);
    expect(f.message).toMatch(message);
    expect(emu.keyCount(instance, { extractable: true })).toBe(0);
    expect(breakerOf(instance)).toBe('open');
  }, 20_000);

  it('a service that does not answer in time: PROVIDER_UNAVAILABLE within the attempts\' timeouts, nothing stored, counted', async () => {
    const instance = newInstance(emu);
    const p = providers.get(kpProvider(emu.url, instance));
    const crk = (await p.createRootKey(ctx('', API_KEY), 'slow-crk')).crkId;
    emu.faults.set({ latencyMs: 5_000, match: 'actions/wrap' });
    const t = Date.now();
    const f = await failure(p.seal(ctx(crk, API_KEY, 60_000), key(), randomBytes(32)));
    expect(Date.now() - t).toBeLessThan(BOUND_MS);
    expect(f).toMatchObject({ code: grpc.status.UNAVAILABLE, reason: 'PROVIDER_UNAVAILABLE' });
    expect(f.message).toMatch(/timed out after 1000 ms/);
    expect(emu.keyCount(instance, { extractable: true })).toBe(0);
    expect(breakerOf(instance)).toBe('open');
  }, 20_000);

  it.each(['json', 'fields', 'types'] as const)('a standard key read back as %s: PROVIDER_ERROR, nothing stored, counted', async (corrupt) => {
    const instance = newInstance(emu);
    const p = providers.get(kpProvider(emu.url, instance));
    const crk = (await p.createRootKey(ctx('', API_KEY), 'bad-get')).crkId;
    const k = key();
    const sealed = await p.seal(ctx(crk, API_KEY), k, randomBytes(32));
    // A breaker of its own, which has seen no success yet.
    const fresh = registry({ breaker: BREAKER });
    try {
      const q = fresh.providers.get(kpProvider(emu.url, instance));
      emu.faults.set({ corrupt, match: '^GET /api/v2/keys/[^/?]+$' });
      const f = await failure(q.unseal(ctx(crk, API_KEY), k, sealed.ref));
      expect(f).toMatchObject({ code: grpc.status.INTERNAL, reason: 'PROVIDER_ERROR' });
      expect(f.message).toMatch(/unusable answer to the request to read the wrapped key/);
      expect(emu.keyCount(instance, { extractable: true })).toBe(1);
      expect(fresh.providers.breakers()[`keyprotect ${new URL(emu.url).host} instance ${instance}`]).toBe('open');
    } finally {
      fresh.providers.close();
    }
  });

  it('an unwrap answer without a usable plaintext: PROVIDER_ERROR, no rewrapped key stored', async () => {
    const instance = newInstance(emu);
    const p = providers.get(kpProvider(emu.url, instance));
    const crk = (await p.createRootKey(ctx('', API_KEY), 'bad-unwrap')).crkId;
    const k = key();
    const sealed = await p.seal(ctx(crk, API_KEY), k, randomBytes(32));
    emu.faults.set({ corrupt: 'types', match: 'actions/unwrap' });
    expect((await failure(p.unseal(ctx(crk, API_KEY), k, sealed.ref))).message).toMatch(/JSON that has no base64 plaintext/);
    expect(emu.keyCount(instance, { extractable: true })).toBe(1);
  });

  it('an IAM token answer without a token: PROVIDER_ERROR, counted by the IAM breaker', async () => {
    const own = registry({ breaker: BREAKER });
    try {
      const p = own.providers.get(kpProvider(emu.url, newInstance(emu)));
      emu.faults.set({ corrupt: 'fields', scope: 'iam' });
      const f = await failure(p.checkRootKey(ctx(randomUUID(), API_KEY)));
      expect(f).toMatchObject({ code: grpc.status.INTERNAL, reason: 'PROVIDER_ERROR' });
      expect(f.message).toMatch(/IAM at .* answered without a usable access token: it answered HTTP 200 with JSON that has no access_token/);
      expect(own.providers.breakers()[`iam ${new URL(emu.url).host}`]).toBe('open');
    } finally {
      own.providers.close();
    }
  });
});
