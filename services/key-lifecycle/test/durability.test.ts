// Durability: an acknowledged Create survives kill -9 of Redis (AOF, fsync
// always); a record that cannot be written (or replicated, with WAIT) leaves
// no sealed object behind; Destroy with the provider down finishes later.
import Redis from 'ioredis';
import { channelCredentials, grpc } from '@keywarden/common';
import { ObjectType } from '@keywarden/kmip';
import { lifecycleV1 } from '@keywarden/proto';
import { eventually as retryUntil, startRedis, TestRedis } from '../../../test/lib/redis';
import { aesTemplate, failure, rpc, Stack, startStack, TenantHandle } from './stack';

jest.setTimeout(40_000);

let s: Stack;
let t: TenantHandle;
let redis: Redis;

beforeAll(async () => {
  s = await startStack();
  t = await s.addTenant('durable');
  redis = new Redis(s.redis.url, { maxRetriesPerRequest: null });
});

afterAll(async () => {
  redis?.disconnect();
  await s?.close();
});

const create = (client: lifecycleV1.KeyLifecycleClient = s.lc) =>
  rpc<lifecycleV1.CreateResponse>(client, 'create', { caller: t.caller, objectType: ObjectType.SymmetricKey, attributes: aesTemplate() }).then((r) => r.uniqueIdentifier);
const get = (uid: string) => s.call<lifecycleV1.GetResponse>('get', { caller: t.caller, uniqueIdentifier: uid });
const count = async () => (await s.call<lifecycleV1.LocateResponse>('locate', { caller: t.caller, attributes: [] })).locatedItems;
const standardKeys = async () => ((await s.keyProtect('GET', 'keys?limit=5000&extractable=true', t.instanceId)).body as { resources?: Array<{ name: string }> }).resources?.length ?? 0;

/** test/lib's eventually, with this suite's 10 s. */
const eventually = <T>(fn: () => Promise<T>): Promise<T> => retryUntil(fn, 10_000);

it('keeps every acknowledged Create through kill -9 of Redis and a restart from its AOF', async () => {
  const n = 60;
  const uids = await Promise.all(Array.from({ length: n }, () => create()));
  const before = new Map<string, Buffer>();
  for (const uid of uids) before.set(uid, (await get(uid)).keyMaterial);
  await s.redis.kill9();
  // While Redis is down, calls fail promptly instead of hanging.
  const started = Date.now();
  expect((await failure(get(uids[0]))).code).toBe(grpc.status.UNAVAILABLE);
  expect(Date.now() - started).toBeLessThan(10_000);
  await s.redis.restart();
  await eventually(() => get(uids[0]));
  expect(await count()).toBeGreaterThanOrEqual(n);
  for (const uid of uids) expect((await get(uid)).keyMaterial).toEqual(before.get(uid));
});

it('destroys the sealed key and fails the Create when the record cannot be written', async () => {
  const keysBefore = await standardKeys();
  const objects = await count();
  await redis.config('SET', 'min-replicas-to-write', '1');
  try {
    expect(await failure(create())).toMatchObject({ code: grpc.status.UNAVAILABLE, message: expect.stringContaining('nothing was created') });
  } finally {
    await redis.config('SET', 'min-replicas-to-write', '0');
  }
  expect(await standardKeys()).toBe(keysBefore);
  expect(await count()).toBe(objects);
  await expect(create()).resolves.toBeDefined();
});

describe('with WAIT for one replica', () => {
  let replicaRedis: TestRedis | undefined;
  afterAll(async () => {
    await replicaRedis?.stop();
  });

  it('refuses a Create no replica confirmed, then acknowledges once a replica follows', async () => {
    // 2 s: a replica that has just synced can take longer than a few hundred ms to acknowledge under load (CI).
    const waiting = await s.startReplica({ durability: { waitReplicas: 1, waitTimeoutMs: 2000 } });
    const client = new lifecycleV1.KeyLifecycleClient(`127.0.0.1:${waiting.port}`, channelCredentials(s.gatewayTls));
    try {
      const keysBefore = await standardKeys();
      const objects = await count();
      expect(await failure(create(client))).toMatchObject({ code: grpc.status.UNAVAILABLE, message: expect.stringContaining('replicas') });
      expect(await count()).toBe(objects);
      expect(await standardKeys()).toBe(keysBefore);

      await redis.config('SET', 'repl-diskless-sync-delay', '0');
      replicaRedis = await startRedis({ args: ['--replicaof', '127.0.0.1', String(s.redis.port)] });
      const follower = new Redis(replicaRedis.url);
      try {
        await eventually(async () => {
          if (!/master_link_status:up/.test(await follower.info('replication'))) throw new Error('replica not in sync yet');
        });
        const uid = await create(client);
        expect(await follower.hexists(`kw:t:${t.id}:obj:${uid}`, 'rec')).toBe(1);
      } finally {
        follower.disconnect();
      }
    } finally {
      client.close();
    }
  });
});

it('finishes a Destroy in the provider once it is reachable again', async () => {
  const uid = await create();
  const name = `kmip-${uid}`;
  const names = async () => ((await s.keyProtect('GET', 'keys?limit=5000', t.instanceId)).body as { resources?: Array<{ name: string }> }).resources?.map((k) => k.name) ?? [];
  s.emulator.faults.set({ down: true });
  try {
    await s.call('destroy', { caller: t.caller, uniqueIdentifier: uid });
    expect(await redis.sismember('kw:destroy-pending', `${t.id}/${uid}`)).toBe(1);
  } finally {
    s.emulator.faults.clear();
  }
  await eventually(async () => {
    if ((await names()).includes(name)) throw new Error('still there');
  });
  await eventually(async () => {
    if (await redis.sismember('kw:destroy-pending', `${t.id}/${uid}`)) throw new Error('still pending');
  });
});
