// How key-lifecycle reaches Redis: one URL (a single instance, or an address
// that always leads to the master), or Redis Sentinel, which key-lifecycle
// then follows by itself. With Sentinel every connection (commands, the WAIT
// writer, pub/sub) asks the Sentinels for the current master whenever it
// connects, and reconnects when
//   - the connection drops (the master died): the Sentinels name the new
//     master once they have promoted a replica;
//   - a Sentinel announces +switch-master (ioredis' failover detector), for an
//     old master that is still reachable but no longer the master;
//   - a command is refused with READONLY (the node was turned into a replica);
//     such a command was not executed, so it is sent again to the new master.
// With a URL, READONLY only makes the connection reconnect (for a proxy that
// tracks the master); the command fails.
import fs from 'fs';
import Redis, { RedisOptions } from 'ioredis';
import { ConfigError, envOptional, envString, withTimeout } from '@keywarden/common';

export interface SentinelAddress {
  host: string;
  port: number;
}

export interface SentinelTarget {
  sentinels: SentinelAddress[];
  /** Master name the Sentinels monitor (default "mymaster"). */
  name?: string;
  /** Password of the Redis nodes (AUTH). */
  password?: string;
  /** Password of the Sentinels, when they require one. */
  sentinelPassword?: string;
}

export interface UrlTarget {
  /** redis://[:password@]host:port[/db] */
  url: string;
  /** Password when it is not in the URL. */
  password?: string;
}

export type RedisTarget = UrlTarget | SentinelTarget;

export const DEFAULT_SENTINEL_MASTER = 'mymaster';
export const DEFAULT_SENTINEL_PORT = 26379;

export const isSentinelTarget = (t: RedisTarget): t is SentinelTarget => 'sentinels' in t;

/** "host:port,host:port" (port 26379 when omitted; IPv6 as [addr]:port). */
export function parseSentinels(list: string, variable = 'REDIS_SENTINELS'): SentinelAddress[] {
  const out: SentinelAddress[] = [];
  for (const item of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]+))(?::(\d{1,5}))?$/.exec(item);
    const port = m?.[3] === undefined ? DEFAULT_SENTINEL_PORT : Number(m[3]);
    if (!m || port < 1 || port > 65535) throw new ConfigError(`${variable}: "${item}" is not host:port`);
    out.push({ host: m[1] ?? m[2], port });
  }
  if (out.length === 0) throw new ConfigError(`${variable} lists no Sentinel`);
  return out;
}

/** A secret given inline or as a file (the file's content without its final line break). */
function secret(name: string, inline: string | undefined, file: string | undefined): string | undefined {
  if (inline !== undefined && file !== undefined) throw new ConfigError(`set ${name} or ${name}_FILE, not both`);
  if (file === undefined) return inline;
  let v: string;
  try {
    v = fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (e) {
    throw new ConfigError(`${name}_FILE: cannot read ${file} (${(e as Error).message})`);
  }
  if (!v) throw new ConfigError(`${name}_FILE: ${file} is empty`);
  return v;
}

/**
 * Where Redis is, from the environment: REDIS_SENTINELS (+ REDIS_SENTINEL_MASTER)
 * when set, else REDIS_URL; passwords from REDIS_PASSWORD(_FILE) and
 * REDIS_SENTINEL_PASSWORD(_FILE).
 */
export function redisTargetFromEnv(): RedisTarget {
  const password = secret('REDIS_PASSWORD', envOptional('REDIS_PASSWORD'), envOptional('REDIS_PASSWORD_FILE'));
  const sentinels = envOptional('REDIS_SENTINELS');
  if (sentinels !== undefined) {
    return {
      sentinels: parseSentinels(sentinels),
      name: envString('REDIS_SENTINEL_MASTER', DEFAULT_SENTINEL_MASTER),
      password,
      sentinelPassword: secret('REDIS_SENTINEL_PASSWORD', envOptional('REDIS_SENTINEL_PASSWORD'), envOptional('REDIS_SENTINEL_PASSWORD_FILE')),
    };
  }
  const url = envString('REDIS_URL', 'redis://127.0.0.1:6379');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('REDIS_URL must be a URL such as redis://host:6379');
  }
  if (password !== undefined && parsed.password) throw new ConfigError('the Redis password is both in REDIS_URL and in REDIS_PASSWORD(_FILE); give it once');
  return { url, password };
}

/** For logs: where, never a password. */
export function describeTarget(t: RedisTarget): Record<string, unknown> {
  if (isSentinelTarget(t)) return { sentinels: t.sentinels.map((s) => `${s.host}:${s.port}`), master: t.name ?? DEFAULT_SENTINEL_MASTER };
  const u = new URL(t.url);
  u.password = '';
  u.username = '';
  return { redis: u.toString() };
}

/** Name ioredis' own error for a command it gave up on, which the store treats as Redis being unavailable. */
class NoMasterError extends Error {
  override name = 'AbortError';
}

const retired = new WeakSet<Redis>();

/** Connections being closed on purpose: they are not started again (see keepAlive). */
export function retireRedis(clients: Redis[]): void {
  for (const c of clients) retired.add(c);
}

/**
 * ioredis ends a client for good when a connection attempt is cut short,
 * which its failover detector does when a Sentinel announces the new master
 * while the client is still looking for it (and a READONLY reconnect can do
 * too). Start such a client again, unless it was retired.
 */
function keepAlive(client: Redis): Redis {
  client.on('end', () => {
    if (retired.has(client)) return;
    const t = setTimeout(() => {
      if (!retired.has(client) && client.status === 'end') client.connect().catch(() => undefined);
    }, 100);
    t.unref();
  });
  return client;
}

/**
 * One connection (lazy: call connect()). Every connection key-lifecycle opens
 * comes from here, so all of them follow the master the same way.
 */
export function createRedisConnection(target: RedisTarget, purpose: string, extra: RedisOptions = {}): Redis {
  const common: RedisOptions = {
    lazyConnect: true,
    enableAutoPipelining: true,
    // Commands queued while disconnected fail after two reconnection attempts (UNAVAILABLE), not hang.
    maxRetriesPerRequest: 2,
    connectTimeout: 5_000,
    connectionName: `key-lifecycle:${purpose}`,
    ...extra,
  };
  if (!isSentinelTarget(target)) {
    return keepAlive(new Redis(target.url, {
      ...common,
      ...(target.password === undefined ? {} : { password: target.password }),
      // A node that has become a replica: reconnect (a proxy in front then
      // picks the master) but fail the command, which the same URL could refuse again.
      reconnectOnError: (err) => /^READONLY\b/.test(err.message),
    }));
  }
  const client: Redis = new Redis({
    ...common,
    sentinels: target.sentinels,
    name: target.name ?? DEFAULT_SENTINEL_MASTER,
    role: 'master',
    password: target.password,
    sentinelPassword: target.sentinelPassword,
    sentinelCommandTimeout: 3_000,
    failoverDetector: true,
    // Refused by a node that has become a replica, hence not executed:
    // reconnect to the master the Sentinels name and send it there.
    reconnectOnError: (err) => (/^READONLY\b/.test(err.message) ? 2 : false),
    // Called after each round in which no Sentinel named a master. ioredis
    // keeps looking (it must: giving up ends the client for good) and would
    // hold every queued command meanwhile; fail them instead, as after
    // maxRetriesPerRequest reconnection attempts.
    sentinelRetryStrategy: (times: number) => {
      (client as unknown as { flushQueue?(e: Error, o: { commandQueue: boolean }): void })
        .flushQueue?.(new NoMasterError('no Redis Sentinel named a reachable master'), { commandQueue: false });
      return Math.min(times * 200, 2_000);
    },
  });
  return keepAlive(client);
}

/**
 * Connects, failing (instead of waiting for ever) when no master can be found
 * within `timeoutMs`: a lazy Sentinel client otherwise keeps asking.
 */
export async function connectRedis(client: Redis, timeoutMs: number): Promise<void> {
  await withTimeout(client.connect(), timeoutMs, () => new Error(`no Redis master reachable within ${timeoutMs} ms`));
}

/**
 * Calls `onChange(up)` whenever Redis becomes usable or unusable: every
 * connection ready, and the first one answering PING within `pingTimeoutMs`
 * (checked every `pingEveryMs`). Returns a function that stops watching.
 */
export function watchRedis(clients: Redis[], onChange: (up: boolean) => void, opts: { pingEveryMs?: number; pingTimeoutMs?: number } = {}): () => void {
  const pingTimeoutMs = opts.pingTimeoutMs ?? 2_000;
  let pingOk = true;
  let last: boolean | undefined;
  let stopped = false;
  const update = () => {
    if (stopped) return;
    const up = pingOk && clients.every((c) => c.status === 'ready');
    if (up !== last) {
      last = up;
      onChange(up);
    }
  };
  const onReady = () => { pingOk = true; update(); };
  const events = ['close', 'end', 'reconnecting', 'connect'] as const;
  for (const c of clients) {
    c.on('ready', onReady);
    for (const e of events) c.on(e, update);
  }
  let pinging = false;
  const timer = setInterval(() => {
    const c = clients[0];
    if (pinging || c.status !== 'ready') return update();
    pinging = true;
    withTimeout(c.ping(), pingTimeoutMs, () => new Error('PING timed out'))
      .then(() => { pingOk = true; }, () => { pingOk = false; })
      .finally(() => { pinging = false; update(); });
  }, opts.pingEveryMs ?? 5_000);
  timer.unref();
  update();
  return () => {
    stopped = true;
    clearInterval(timer);
    for (const c of clients) {
      c.off('ready', onReady);
      for (const e of events) c.off(e, update);
    }
  };
}
