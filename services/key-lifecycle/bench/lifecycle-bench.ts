// Create and Get through the KeyLifecycle gRPC API, next to a baseline
// measured in the same run: the Redis and crk-wrapping calls those operations
// make, issued directly (same scripts, same wrapping RPCs, same audit entry).
// The ratio API/baseline is key-lifecycle's own cost. Everything runs on this
// machine: Redis (AOF, fsync always), the Key Protect emulator, crk-wrapping
// and key-lifecycle, gRPC over mTLS.
//
//   npm run bench -w services/key-lifecycle
//   BENCH_SECONDS=5 BENCH_CONCURRENCY=32 npm run bench -w services/key-lifecycle
import { randomBytes, randomUUID } from 'crypto';
import Redis from 'ioredis';
import {
  call, certFingerprint, channelCredentials, channelOptions, createCa, createLogger, internalIdentity, issueCertificate, Issued, Role, TlsFiles,
} from '@keywarden/common';
import { startCrkWrapping } from '@keywarden/crk-wrapping';
import { startKeyLifecycle, Store } from '@keywarden/key-lifecycle';
import type { KeyRecord } from '@keywarden/key-lifecycle';
import { startEmulator } from '@keywarden/keyprotect-emulator';
import { adminV1, lifecycleV1, wrappingV1 } from '@keywarden/proto';
import { startRedis } from '../../../test/lib/redis';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const ROUNDS = 2;

const tls = (ca: Issued, i: Issued): TlsFiles => ({ ca: Buffer.from(ca.cert), cert: Buffer.from(i.cert), key: Buffer.from(i.key) });

interface Result { rate: number; p50: number; p99: number; errors: number }

/** Runs `op` from CONCURRENCY loops for SECONDS; rate in operations per second, latencies in ms. */
async function measure(op: () => Promise<unknown>): Promise<Result> {
  const lat: number[] = [];
  let errors = 0;
  const end = Date.now() + SECONDS * 1000;
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (Date.now() < end) {
      const t = process.hrtime.bigint();
      try {
        await op();
        lat.push(Number(process.hrtime.bigint() - t) / 1e6);
      } catch {
        errors++;
      }
    }
  }));
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0;
  return { rate: lat.length / secs, p50: q(0.5), p99: q(0.99), errors };
}

function best(rs: Result[]): Result {
  return rs.reduce((a, b) => (b.rate > a.rate ? b : a));
}

async function main(): Promise<void> {
  const quiet = createLogger('bench', 'warn');
  const ca = createCa('bench CA');
  const svc = (role: Role, roleName?: string) => tls(ca, issueCertificate(ca, internalIdentity(role, { roleName })));
  const wrappingTls = svc('crk-wrapping');
  const lifecycleTls = svc('key-lifecycle');
  const gatewayTls = svc('kmip-gateway');
  const adminTls = svc('operator', 'bench');
  const redis = await startRedis();
  const benchInstance = randomUUID();
  const emulator = await startEmulator({ port: 0, instances: [benchInstance] });
  const wrapping = await startCrkWrapping({ address: '127.0.0.1:0', tls: wrappingTls, masterKey: randomBytes(32), logger: quiet, providerHosts: [new URL(emulator.url).host] });
  const wrappingAddress = `127.0.0.1:${wrapping.port}`;
  const lifecycle = await startKeyLifecycle({
    address: '127.0.0.1:0', tls: lifecycleTls, redisUrl: redis.url, wrappingAddress, wrappingTls: lifecycleTls,
    logger: createLogger('key-lifecycle', 'warn'),
  });
  const address = `127.0.0.1:${lifecycle.port}`;
  const lc = new lifecycleV1.KeyLifecycleClient(address, channelCredentials(gatewayTls), channelOptions());
  const admin = new adminV1.AdminClient(address, channelCredentials(adminTls));
  const wrap = new wrappingV1.CrkWrappingClient(wrappingAddress, channelCredentials(lifecycleTls), channelOptions());
  const direct = new Redis(redis.url, { enableAutoPipelining: true });
  const store = new Store(direct, quiet);

  try {
    await call(admin.createTenant, admin, adminV1.CreateTenantRequest.fromPartial({
      id: 'bench', createRootKey: true, credential: 'bench-api-key',
      provider: { kind: adminV1.ProviderKind.PROVIDER_KIND_KEYPROTECT, endpoint: emulator.url, iamEndpoint: emulator.url, instanceId: benchInstance, crkId: '' },
    }), 30_000);
    const client = issueCertificate(ca, { commonName: 'vcenter-bench', usage: 'client' });
    await call(admin.addCertificate, admin, { tenantId: 'bench', pem: client.cert }, 10_000);
    const fp = certFingerprint(client.cert);
    const caller = { certFingerprint: fp };
    const template = [
      { name: 'Cryptographic Algorithm', index: 0, value: { enumeration: 3 } },
      { name: 'Cryptographic Length', index: 0, value: { integer: 256 } },
      { name: 'Cryptographic Usage Mask', index: 0, value: { integer: 12 } },
    ];
    const provider = async (): Promise<wrappingV1.Provider> => {
      const ctx = await store.loadContext(fp);
      if (!ctx) throw new Error('bench tenant missing');
      const t = ctx.tenant;
      return { kind: t.kind, endpoint: t.endpoint, iamEndpoint: t.iamEndpoint, instanceId: t.instanceId, crkId: t.crkId, credentialRef: t.credentialRef };
    };
    const p = await provider();

    const apiCreate = async () => (await call<lifecycleV1.CreateRequest, lifecycleV1.CreateResponse>(lc.create, lc, { caller, objectType: 2, attributes: template }, 30_000)).uniqueIdentifier;
    const apiGet = (uid: string) => call<lifecycleV1.GetRequest, lifecycleV1.GetResponse>(lc.get, lc, { caller, uniqueIdentifier: uid, keyFormatType: 0 }, 30_000);
    const audit = (op: string, uid: string) => store.audit({ tenant: 'bench', cert: fp, op, uid, result: 'ok', time: new Date().toISOString() });

    // Baseline Create: resolve the caller (one script), seal a new key in crk-wrapping,
    // write the record with its indexes (one script), audit entry.
    const directCreate = async () => {
      const ctx = await store.loadContext(fp);
      const uid = randomUUID();
      const sealed = await call<wrappingV1.GenerateAndSealRequest, wrappingV1.SealResponse>(wrap.generateAndSeal, wrap,
        { provider: p, context: { tenantId: 'bench', uid }, algorithm: 3, lengthBits: 256 }, 30_000);
      const now = Math.floor(Date.now() / 1000);
      const rec: KeyRecord = {
        uid, tenant: ctx?.tenant.id ?? 'bench', createdBy: fp, createdMs: Date.now(), objectType: 2, state: 1, algorithm: 3, length: 256,
        usageMask: 12, keyFormatType: 1, initialDate: now, lastChangeDate: now, originalCreationDate: now, attrs: {},
        sealedRef: sealed.sealedRef.toString('base64'), crkVersion: sealed.crkVersion,
      };
      if ((await store.writeObject(undefined, rec)) !== 'OK') throw new Error('write failed');
      audit('Create', uid);
      return uid;
    };
    // Baseline Get: resolve caller and record (one script), unseal in crk-wrapping, audit entry.
    const directGet = async (uid: string) => {
      const ctx = await store.loadContext(fp, uid);
      const rec = ctx?.object?.rec;
      if (!rec?.sealedRef) throw new Error('missing record');
      await call<wrappingV1.UnsealRequest, wrappingV1.UnsealResponse>(wrap.unseal, wrap,
        { provider: p, context: { tenantId: 'bench', uid }, sealedRef: Buffer.from(rec.sealedRef, 'base64') }, 30_000);
      audit('Get', uid);
    };

    // Keys to Get, and a warm-up of every path.
    const keys: string[] = [];
    for (let i = 0; i < 200; i++) keys.push(await apiCreate());
    await directCreate();
    await Promise.all(keys.slice(0, 32).map((k) => Promise.all([apiGet(k), directGet(k)])));
    let n = 0;
    const pick = () => keys[n++ % keys.length];

    const results: Record<string, Result[]> = { apiCreate: [], directCreate: [], apiGet: [], directGet: [] };
    for (let r = 0; r < ROUNDS; r++) {
      results.directCreate.push(await measure(directCreate));
      results.apiCreate.push(await measure(apiCreate));
      results.directGet.push(await measure(() => directGet(pick())));
      results.apiGet.push(await measure(() => apiGet(pick())));
    }

    const row = (name: string, r: Result) =>
      `${name.padEnd(34)} ${r.rate.toFixed(0).padStart(8)}/s   p50 ${r.p50.toFixed(2).padStart(7)} ms   p99 ${r.p99.toFixed(2).padStart(7)} ms   errors ${r.errors}`;
    const [ac, dc, ag, dg] = [best(results.apiCreate), best(results.directCreate), best(results.apiGet), best(results.directGet)];
    console.log(`key-lifecycle bench: ${CONCURRENCY} concurrent callers, ${SECONDS} s per phase, best of ${ROUNDS} rounds`);
    console.log('Redis AOF appendfsync always; crk-wrapping + Key Protect emulator; gRPC over mTLS; per-operation log line off, audit stream on');
    console.log(row('Create via KeyLifecycle API', ac));
    console.log(row('Create baseline (direct calls)', dc));
    console.log(row('Get via KeyLifecycle API', ag));
    console.log(row('Get baseline (direct calls)', dg));
    console.log(`ratio Create API/baseline: ${(ac.rate / dc.rate).toFixed(2)}`);
    console.log(`ratio Get API/baseline:    ${(ag.rate / dg.rate).toFixed(2)}`);
  } finally {
    lc.close();
    admin.close();
    wrap.close();
    direct.disconnect();
    await lifecycle.close();
    await wrapping.close();
    await emulator.close();
    await redis.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
