// key-lifecycle follows Redis Sentinel by itself: a master, one replica and
// three Sentinels (test/lib/sentinel.ts, password on every node), key-lifecycle
// given only the Sentinels' addresses and REDIS_WAIT_REPLICAS=1. The master is
// killed with SIGKILL while Creates run; the Sentinels promote the replica.
// Every Create acknowledged before is still there, Gets, Creates (WAIT
// confirmed) and revocation notices work against the new master, and the
// plaintext health port reports NOT_SERVING only while there is no master.
import { certFingerprint, channelCredentials, grpc, issueCertificate } from '@keywarden/common';
import { ObjectType } from '@keywarden/kmip';
import { adminV1, lifecycleV1 } from '@keywarden/proto';
import { service as healthService } from 'grpc-health-check';
import { eventually } from '../../../test/lib/redis';
import { startStack, TestStack, TestTenant } from '../../../test/lib/stack';
import { aesTemplate, rpc } from './stack';

jest.setTimeout(60_000);

let s: TestStack;
let t: TestTenant;
let lc: lifecycleV1.KeyLifecycleClient;
let caller: lifecycleV1.Caller;

beforeAll(async () => {
  s = await startStack({
    sentinel: { replicas: 1, sentinels: 3, password: 'sentinel-test-password', downAfterMs: 1000, failoverTimeoutMs: 3000 },
    lifecycle: { durability: { waitReplicas: 1, waitTimeoutMs: 2000 }, healthAddress: '127.0.0.1:0' },
  });
  t = await s.createTenant();
  caller = { certFingerprint: certFingerprint(t.client.cert) };
  lc = new lifecycleV1.KeyLifecycleClient(`localhost:${s.lifecyclePort}`, channelCredentials(s.pki.gateway));
});

afterAll(async () => {
  lc?.close();
  await s?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const create = () => rpc<lifecycleV1.CreateResponse>(lc, 'create', { caller, objectType: ObjectType.SymmetricKey, attributes: aesTemplate() }, 8_000)
  .then((r) => r.uniqueIdentifier);
const get = (uid: string) => rpc<lifecycleV1.GetResponse>(lc, 'get', { caller, uniqueIdentifier: uid }, 8_000).then((r) => r.keyMaterial);

/** Every status the health service streams for '' (grpc.health.v1 Watch). */
function watchHealth(address: string): { seen: string[]; close(): void } {
  const Client = grpc.makeClientConstructor(healthService as unknown as grpc.ServiceDefinition, 'grpc.health.v1.Health');
  const client = new Client(address, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    watch(req: { service: string }): grpc.ClientReadableStream<{ status: string }>;
  };
  const seen: string[] = [];
  const call = client.watch({ service: '' });
  call.on('data', (m: { status: string }) => seen.push(String(m.status)));
  call.on('error', () => undefined);
  return { seen, close: () => { call.cancel(); client.close(); } };
}

it('keeps every acknowledged key through kill -9 of the master and carries on against the promoted replica', async () => {
  const sentinel = s.sentinel!;
  const [oldMaster, replica] = sentinel.nodes;
  await sentinel.waitReady();
  expect(await sentinel.masterPort()).toBe(oldMaster.port);
  const health = watchHealth(`127.0.0.1:${s.lifecycle.healthPort}`);

  // Keys acknowledged (WAIT 1) before the failover, with their material.
  const before = new Map<string, Buffer>();
  for (const uid of await Promise.all(Array.from({ length: 20 }, () => create()))) before.set(uid, await get(uid));

  // Creates keep running while the master dies: each one acknowledged must survive.
  const acked: string[] = [];
  let running = true;
  const load = async () => {
    while (running) {
      try {
        acked.push(await create());
      } catch {
        await sleep(50);
      }
    }
  };
  const loops = [load(), load(), load()];
  await sleep(300);
  const killedAt = Date.now();
  await oldMaster.kill9();
  await sleep(300);
  running = false;
  await Promise.all(loops);

  const newMaster = await sentinel.waitForMaster((p) => p !== oldMaster.port, 30_000);
  expect(newMaster).toBe(replica.port);
  const promotedAfterMs = Date.now() - killedAt;

  // Gets from the new master: every key acknowledged before and during the kill.
  const firstUid = [...before.keys()][0];
  expect(await eventually(() => get(firstUid), 20_000)).toEqual(before.get(firstUid));
  const servingAfterMs = Date.now() - killedAt;
  for (const [uid, material] of before) expect(await get(uid)).toEqual(material);
  for (const uid of acked) expect((await get(uid)).length).toBe(32);

  // The old master comes back as redis.sh restarts a pod: as a replica of the master the Sentinels name.
  await oldMaster.restart(['--replicaof', '127.0.0.1', String(newMaster)]);
  await sentinel.waitInSync(oldMaster.port);

  // New Creates are written on the new master and confirmed by its replica (the WAIT writer follows too).
  const fresh = await eventually(() => create(), 20_000);
  expect((await get(fresh)).length).toBe(32);
  expect(await sentinel.command(newMaster, ['HEXISTS', `kw:t:${t.id}:obj:${fresh}`, 'rec'])).toBe(1);
  expect(await sentinel.command(oldMaster.port, ['HEXISTS', `kw:t:${t.id}:obj:${fresh}`, 'rec'])).toBe(1);

  // The subscriber follows too: a certificate removed now is streamed to watchers.
  const other = issueCertificate(null, { commonName: `vcenter-${t.id}-2`, usage: 'client' });
  await s.adminCall('addCertificate', { tenantId: t.id, pem: other.cert });
  const stream = lc.watchAccessRevocations({});
  try {
    const revoked = new Promise<string>((resolve) => stream.on('data', (m: lifecycleV1.AccessRevoked) => resolve(m.certFingerprint)));
    stream.on('error', () => undefined);
    await sleep(100);
    await s.adminCall<adminV1.RemoveCertificateRequest, unknown>('removeCertificate', { fingerprint: certFingerprint(other.cert) });
    expect(await revoked).toBe(certFingerprint(other.cert));
  } finally {
    stream.cancel();
  }

  // Health: SERVING, NOT_SERVING while there was no master, SERVING again.
  const seen = health.seen;
  health.close();
  expect(seen[0]).toBe('SERVING');
  expect(seen).toContain('NOT_SERVING');
  expect(seen[seen.length - 1]).toBe('SERVING');
  console.log(`sentinel failover: promoted after ${promotedAfterMs} ms, key-lifecycle serving Gets after ${servingAfterMs} ms; `
    + `${before.size} keys before and ${acked.length} acknowledged during the kill all present`);
});
