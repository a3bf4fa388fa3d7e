// Create Key Pair runs its key generation through a gate (crypto/keys.ts,
// work-gate.ts), and PBKDF2 derivations through another (derivation.ts): one
// at a time per process, 16 waiting, any more refused at once with Server
// Limit Exceeded, so a flood of RSA key pairs or of costly derivations can
// take neither libuv's thread pool (which password checks share) nor memory,
// and a refused request stores nothing.
import Redis from 'ioredis';
import { grpc, ServiceError } from '@keywarden/common';
import { CryptographicAlgorithm as A, HashingAlgorithm, ResultReason } from '@keywarden/kmip';
import type { lifecycleV1 } from '@keywarden/proto';
import { CONCURRENT_KEY_PAIRS, generatePair, WAITING_KEY_PAIRS } from '../src/operations/crypto/keys';
import { pbkdf2Derive } from '../src/operations/crypto/derivation';
import { WorkGate } from '../src/work-gate';
import { failure, startStack, Stack, TenantHandle } from './stack';
import { WatchedGate } from './watched-gate';

jest.setTimeout(60_000);

const busy = () => new ServiceError(grpc.status.RESOURCE_EXHAUSTED, 'busy', ResultReason.ServerLimitExceeded);

test('generates one pair at a time; a bounded number wait; beyond that a request is refused at once', async () => {
  const gate = new WatchedGate(1, 2, busy);
  let settled = 0;
  const first = [generatePair('rsa', 2048, gate), generatePair('ec', 256, gate), generatePair('rsa', 2048, gate)];
  for (const p of first) p.then(() => settled++, () => settled++);
  const refused = await generatePair('rsa', 2048, gate).then(() => undefined, (e: ServiceError) => e);
  expect(refused).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED, kmipReason: ResultReason.ServerLimitExceeded });
  // Refused at once: before even the first of the admitted ones was done.
  expect(settled).toBe(0);
  const pairs = await Promise.all(first);
  expect(pairs.map((p) => p.privateKey.asymmetricKeyType)).toEqual(['rsa', 'ec', 'rsa']);
  expect(gate.most).toBe(1);
  expect(gate.runs).toBe(3);
  expect(() => new WorkGate(0, 1, busy)).toThrow(/at least one/);
  expect(() => new WorkGate(1, -1, busy)).toThrow(/negative/);
});

test('PBKDF2 derivations too: one at a time, a bounded number waiting, the rest refused at once', async () => {
  const gate = new WatchedGate(1, 1, busy);
  const salt = Buffer.from('salt');
  const derive = () => pbkdf2Derive(Buffer.from('password'), salt, 20_000, HashingAlgorithm.SHA256, 32, gate);
  const first = [derive(), derive()];
  await expect(derive()).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED, kmipReason: ResultReason.ServerLimitExceeded });
  const [a, b] = await Promise.all(first);
  expect(a).toEqual(b);
  expect(a.length).toBe(32);
  expect(gate.most).toBe(1);
  expect(gate.runs).toBe(2);
});

describe('through the API', () => {
  let s: Stack;
  let t: TenantHandle;
  let redis: Redis;

  beforeAll(async () => {
    s = await startStack();
    t = await s.addTenant();
    redis = new Redis(s.redis.url);
  });

  afterAll(async () => {
    redis?.disconnect();
    await s?.close();
  });

  const attr = (name: string, value: lifecycleV1.AttributeValue): lifecycleV1.Attribute => ({ name, index: 0, value });
  const rsaPair = () => s.call<lifecycleV1.CreateKeyPairResponse>('createKeyPair', {
    caller: t.caller, commonAttributes: [attr('Cryptographic Algorithm', { enumeration: A.RSA }), attr('Cryptographic Length', { integer: 2048 })],
    privateKeyAttributes: [], publicKeyAttributes: [],
  });

  test('a flood of Create Key Pair: what fits is made, the rest is refused with Server Limit Exceeded and stores nothing', async () => {
    const n = 3 * (CONCURRENT_KEY_PAIRS + WAITING_KEY_PAIRS);
    const results = await Promise.all(Array.from({ length: n }, () => rsaPair().then((r) => ({ ok: r }), (e: unknown) => failure(Promise.reject(e)).then((f) => ({ f })))));
    const made = results.flatMap((r) => ('ok' in r ? [r.ok] : []));
    const refused = results.flatMap((r) => ('f' in r ? [r.f] : []));
    expect(made.length).toBeGreaterThanOrEqual(CONCURRENT_KEY_PAIRS + WAITING_KEY_PAIRS);
    expect(refused.length).toBeGreaterThan(0);
    for (const f of refused) {
      expect(f).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED, reason: ResultReason.ServerLimitExceeded, message: expect.stringMatching(/key pairs are already being generated or waiting; retry/) });
    }
    // Two objects for each pair made, none for a refused one.
    const live = Number(await redis.hget(`kw:t:${t.id}:meta`, 'live'));
    expect(live).toBe(2 * made.length);
    // And the gate lets requests through again once the flood is over.
    expect((await rsaPair()).privateKeyUniqueIdentifier).toMatch(/\S/);
  });
});
