// Audit entries survive a Redis outage (store.ts audit()): an entry Redis did
// not take is kept in memory and written again, in order, once Redis answers.
// A real redis-server, killed with SIGKILL and started again on its AOF.
import Redis from 'ioredis';
import { createLogger } from '@keywarden/common';
import { eventually, startRedis, TestRedis } from '../../../test/lib/redis';
import { connectRedis, createRedisConnection, retireRedis } from '../src/redis-connection';
import { Store } from '../src/store/store';

jest.setTimeout(60_000);

let redis: TestRedis;
let conn: Redis;
let store: Store;

beforeAll(async () => {
  redis = await startRedis();
  conn = createRedisConnection({ url: redis.url }, 'audit-test');
  await connectRedis(conn, 5_000);
  store = new Store(conn, createLogger('audit-test'));
});

afterAll(async () => {
  // Retired first: the product starts an ended connection again otherwise.
  if (conn) retireRedis([conn]);
  conn?.disconnect();
  await redis?.stop();
});

/** The `n` field of every entry of the audit stream, in stream order. */
async function streamed(): Promise<string[]> {
  const c = new Redis(redis.url, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await c.connect();
    const entries = await c.xrange('kw:audit', '-', '+');
    return entries.map(([, f]) => f[f.indexOf('n') + 1]);
  } finally {
    c.disconnect();
  }
}

test('entries written while Redis is down reach the stream, in order, once it is back', async () => {
  store.audit({ op: 'Get', n: '1' });
  await eventually(async () => expect(await streamed()).toEqual(['1']), 5_000);

  await redis.kill9();
  for (const n of ['2', '3', '4']) store.audit({ op: 'Get', n });
  // The connection gives up on them (two reconnection attempts): they wait in memory.
  await eventually(async () => expect(store.auditPending).toEqual({ waiting: 3, dropped: 0 }), 20_000);
  store.audit({ op: 'Get', n: '5' });
  expect(store.auditPending.waiting).toBe(4);

  await redis.restart();
  await eventually(async () => expect(store.auditPending.waiting).toBe(0), 20_000);
  expect(await streamed()).toEqual(['1', '2', '3', '4', '5']);
  // And the next entry goes straight to the stream again.
  store.audit({ op: 'Get', n: '6' });
  await eventually(async () => expect(await streamed()).toEqual(['1', '2', '3', '4', '5', '6']), 5_000);
});
