// The stack with its services in this process, for integration tests that
// reach into a service (the emulator's faults, closing key-lifecycle, more
// replicas): Redis of its own (one server, or a master with replicas and
// Sentinels), the Key Protect emulator, crk-wrapping and key-lifecycle, over
// real sockets with mTLS. The same components and order as launchStack, in
// process; the services are loaded only when asked for.
import { randomBytes } from 'crypto';
import type { TlsFiles } from '@keywarden/common';
import type { CrkWrapping, CrkWrappingOptions } from '@keywarden/crk-wrapping';
import type { KeyLifecycle, KeyLifecycleOptions } from '@keywarden/key-lifecycle';
import type { Emulator, EmulatorOptions } from '@keywarden/keyprotect-emulator';
import { startRedis, TestRedis } from './redis';
import { SentinelSetOptions, startSentinelSet, TestSentinelSet } from './sentinel';

export interface InProcessOptions {
  /** Identities from the internal CA: crk-wrapping's, and key-lifecycle's (its server and its client of crk-wrapping). */
  tls: { wrapping: TlsFiles; lifecycle: TlsFiles };
  /** Redis as a master with replicas and Sentinels, which key-lifecycle follows, instead of one redis-server. */
  sentinel?: SentinelSetOptions;
  /** Extra redis-server arguments (one server). */
  redisArgs?: string[];
  emulator?: Partial<EmulatorOptions>;
  wrapping?: Partial<CrkWrappingOptions>;
  /** Options of every key-lifecycle started (durability, cacheTtlMs, ...). */
  lifecycle?: Partial<KeyLifecycleOptions>;
}

export interface InProcessStack {
  /** The Redis server; with `sentinel`, the first master (sentinel.nodes[0]). */
  redis: TestRedis;
  sentinel?: TestSentinelSet;
  emulator: Emulator;
  wrapping: CrkWrapping;
  wrappingAddress: string;
  lifecycle: KeyLifecycle;
  /** What the first key-lifecycle was started with. */
  lifecycleOptions: KeyLifecycleOptions;
  /** Another key-lifecycle replica on the same Redis and crk-wrapping; closed by close(). */
  startLifecycle(extra?: Partial<KeyLifecycleOptions>): Promise<KeyLifecycle>;
  close(): Promise<void>;
}

export async function startInProcess(o: InProcessOptions): Promise<InProcessStack> {
  const { startEmulator } = await import('@keywarden/keyprotect-emulator');
  const { startCrkWrapping } = await import('@keywarden/crk-wrapping');
  const { startKeyLifecycle } = await import('@keywarden/key-lifecycle');
  const undo: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const f of undo.splice(0).reverse()) await f();
  };
  try {
    const sentinel = o.sentinel ? await startSentinelSet(o.sentinel) : undefined;
    const redis = sentinel ? sentinel.nodes[0] : await startRedis({ args: o.redisArgs });
    undo.push(() => (sentinel ?? redis).stop());
    const emulator = await startEmulator({ port: 0, ...o.emulator });
    undo.push(() => emulator.close());
    const wrapping = await startCrkWrapping({
      address: '127.0.0.1:0', tls: o.tls.wrapping, masterKey: randomBytes(32), providerHosts: [new URL(emulator.url).host], ...o.wrapping,
    });
    undo.push(() => wrapping.close());
    const wrappingAddress = `127.0.0.1:${wrapping.port}`;
    const lifecycleOptions: KeyLifecycleOptions = {
      address: '127.0.0.1:0', tls: o.tls.lifecycle,
      ...(sentinel ? { redis: { sentinels: sentinel.sentinels, name: sentinel.name, password: sentinel.password } } : { redisUrl: redis.url }),
      wrappingAddress, wrappingTls: o.tls.lifecycle, ...o.lifecycle,
    };
    const startLifecycle = async (extra: Partial<KeyLifecycleOptions> = {}) => {
      const lc = await startKeyLifecycle({ ...lifecycleOptions, ...extra });
      undo.push(() => lc.close());
      return lc;
    };
    const lifecycle = await startLifecycle();
    return { redis, sentinel, emulator, wrapping, wrappingAddress, lifecycle, lifecycleOptions, startLifecycle, close: closeAll };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
