// How key-lifecycle connects to Redis (src/redis-connection.ts): configuration
// from the environment, Sentinel clients that survive what ioredis does to
// them during failovers, and the health service that follows Redis.
import fs from 'fs';
import os from 'os';
import path from 'path';
import type Redis from 'ioredis';
import { checkHealth, grpc } from '@keywarden/common';
import { freePort, startRedis, TestRedis, waitFor } from '../../../test/lib/redis';
import { startSentinelSet, TestSentinelSet } from '../../../test/lib/sentinel';
import { HEALTH_SERVICES, KeyLifecycle, startKeyLifecycle } from '../src';
import {
  connectRedis, createRedisConnection, parseSentinels, redisTargetFromEnv, retireRedis, SentinelTarget,
} from '../src/redis-connection';

jest.setTimeout(40_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for `ok` (test/lib waitFor, with the arguments in reading order). */
const until = (what: string, ok: () => Promise<boolean> | boolean, ms = 15_000) => waitFor(async () => ok(), ms, what);

describe('configuration', () => {
  const saved = { ...process.env };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-redis-env-'));
  const file = (name: string, content: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, content);
    return p;
  };
  beforeEach(() => {
    for (const k of Object.keys(process.env)) if (k.startsWith('REDIS_')) delete process.env[k];
  });
  afterAll(() => {
    process.env = saved;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('parses Sentinel lists', () => {
    expect(parseSentinels('redis-0.redis-headless:26379, redis-1.redis-headless ,[::1]:26380,10.0.0.7:5000')).toEqual([
      { host: 'redis-0.redis-headless', port: 26379 }, { host: 'redis-1.redis-headless', port: 26379 },
      { host: '::1', port: 26380 }, { host: '10.0.0.7', port: 5000 },
    ]);
    for (const bad of ['', ' , ', 'host:0', 'host:65536', 'host:port', '::1:26379', 'redis://host:26379', 'a b:1']) {
      expect(() => parseSentinels(bad)).toThrow(/REDIS_SENTINELS/);
    }
  });

  it('uses REDIS_URL, with the password inline or from a file', () => {
    expect(redisTargetFromEnv()).toEqual({ url: 'redis://127.0.0.1:6379', password: undefined });
    process.env.REDIS_URL = 'redis://redis:6379/0';
    process.env.REDIS_PASSWORD_FILE = file('pw', 's3cret\n');
    expect(redisTargetFromEnv()).toEqual({ url: 'redis://redis:6379/0', password: 's3cret' });
    process.env.REDIS_URL = 'redis://:inline@redis:6379/0';
    expect(() => redisTargetFromEnv()).toThrow(/both in REDIS_URL and in REDIS_PASSWORD/);
    process.env.REDIS_PASSWORD = 'x';
    expect(() => redisTargetFromEnv()).toThrow('set REDIS_PASSWORD or REDIS_PASSWORD_FILE, not both');
  });

  it('prefers REDIS_SENTINELS over REDIS_URL, with the master name and both passwords', () => {
    process.env.REDIS_URL = 'redis://ignored:6379';
    process.env.REDIS_SENTINELS = 's1:26379,s2:26379';
    expect(redisTargetFromEnv()).toEqual({
      sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }], name: 'mymaster', password: undefined, sentinelPassword: undefined,
    });
    process.env.REDIS_SENTINEL_MASTER = 'keywarden';
    process.env.REDIS_PASSWORD = 'node-pw';
    process.env.REDIS_SENTINEL_PASSWORD_FILE = file('spw', 'sentinel-pw\r\n');
    expect(redisTargetFromEnv()).toMatchObject({ name: 'keywarden', password: 'node-pw', sentinelPassword: 'sentinel-pw' });
    process.env.REDIS_SENTINEL_PASSWORD_FILE = path.join(dir, 'missing');
    expect(() => redisTargetFromEnv()).toThrow(/REDIS_SENTINEL_PASSWORD_FILE: cannot read/);
    process.env.REDIS_SENTINEL_PASSWORD_FILE = file('empty', '\n');
    expect(() => redisTargetFromEnv()).toThrow(/is empty/);
  });
});

describe('Sentinel clients', () => {
  let set: TestSentinelSet;
  let target: SentinelTarget;
  const clients: Redis[] = [];
  const open = (purpose: string) => {
    const c = createRedisConnection(target, purpose);
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    set = await startSentinelSet({ replicas: 1, sentinels: 3, password: 'client-test-pw' });
    target = { sentinels: set.sentinels, name: set.name, password: set.password };
    await set.waitReady();
  });
  afterAll(async () => {
    retireRedis(clients);
    for (const c of clients) c.disconnect();
    await set?.stop();
  });

  it('starts again, subscriptions included, when ioredis ends a client whose connection attempt was cut short', async () => {
    const sub = open('sub');
    const pub = open('pub');
    await connectRedis(sub, 10_000);
    const got: string[] = [];
    sub.on('message', (_ch: string, m: string) => got.push(m));
    await sub.subscribe('kw:test');
    // What the failover detector does on +switch-master while a client is
    // still asking the Sentinels for the master: ioredis ends that client.
    let cut = false;
    sub.once('connecting', () => {
      (sub as unknown as { connector: { disconnect(): void } }).connector.disconnect();
      cut = true;
    });
    const ended = new Promise((r) => sub.once('end', r));
    sub.disconnect(true);
    await ended;
    expect(cut).toBe(true);
    await until('the subscriber to be back', () => sub.status === 'ready');
    await until('the message to arrive', async () => {
      await pub.publish('kw:test', 'after');
      return got.includes('after');
    });
  });

  it('fails queued commands at once when no Sentinel answers, and start-up gives up', async () => {
    const nowhere = createRedisConnection({ sentinels: [{ host: '127.0.0.1', port: await freePort() }], name: 'mymaster' }, 'nowhere');
    nowhere.on('error', () => undefined);
    clients.push(nowhere);
    const t0 = Date.now();
    await expect(connectRedis(nowhere, 1_000)).rejects.toThrow(/no Redis master reachable within 1000 ms/);
    expect(nowhere.status).toBe('connecting');
    await expect(nowhere.get('x')).rejects.toMatchObject({ name: 'AbortError' });
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('moves to the new master on a failover that keeps the old one running (demoted to replica)', async () => {
    const writer = open('writer');
    await connectRedis(writer, 10_000);
    const before = set.nodes[0].port;
    expect(writer.stream?.remotePort).toBe(before);
    let ok = 0;
    let failed = 0;
    let running = true;
    const load = (async () => {
      while (running) {
        try {
          await writer.incr('kw:test:counter');
          ok++;
        } catch {
          failed++;
          await sleep(20);
        }
      }
    })();
    let after: number;
    try {
      await sleep(200);
      expect(await set.sentinelCommand(['SENTINEL', 'FAILOVER', set.name])).toBe('OK');
      after = await set.waitForMaster((p) => p !== before);
      const okAtSwitch = ok;
      await until('writes on the new master', () => ok > okAtSwitch + 20);
    } finally {
      running = false;
      await load;
    }
    expect(writer.stream?.remotePort).toBe(after);
    expect(await writer.call('ROLE').then((r) => (r as string[])[0])).toBe('master');
    // Writes failed at most while the master changed.
    expect(failed).toBeLessThan(ok);
  });
});

describe('health', () => {
  let redis: TestRedis;
  let lc: KeyLifecycle | undefined;
  const insecure = grpc.credentials.createInsecure();
  const status = (port: number, service = '') => checkHealth(`127.0.0.1:${port}`, insecure, service, 1_000).catch(() => 'UNREACHABLE');

  beforeAll(async () => {
    redis = await startRedis();
    lc = await startKeyLifecycle({ address: '127.0.0.1:0', redis: { url: redis.url }, wrappingAddress: '127.0.0.1:1', healthAddress: '127.0.0.1:0' });
  });
  afterAll(async () => {
    await lc?.close();
    await redis?.stop();
  });

  it('is SERVING on the plaintext health port and the main port while Redis answers, NOT_SERVING while it is down', async () => {
    const svc = lc as KeyLifecycle;
    const hp = svc.healthPort as number;
    expect(hp).toBeGreaterThan(0);
    for (const name of ['', ...HEALTH_SERVICES]) {
      expect(await status(hp, name)).toBe('SERVING');
      expect(await status(svc.port, name)).toBe('SERVING');
    }
    await redis.kill9();
    await until('NOT_SERVING', async () => (await status(hp)) === 'NOT_SERVING', 10_000);
    expect(await status(svc.port, HEALTH_SERVICES[0])).toBe('NOT_SERVING');
    await redis.restart();
    await until('SERVING again', async () => (await status(hp)) === 'SERVING', 15_000);
    lc = undefined;
    await svc.close();
    expect(['NOT_SERVING', 'UNREACHABLE']).toContain(await status(hp));
  });
});
