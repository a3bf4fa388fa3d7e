// The services in one process for tests: Redis (own port), the Key Protect
// emulator, crk-wrapping, key-lifecycle and (optionally) the KMIP gateway,
// all over real sockets with mTLS from a throwaway PKI.
import { randomBytes, randomUUID } from 'crypto';
import { Issued, Role, TlsFiles, channelCredentials, channelOptions, createCa, internalIdentity, issueCertificate } from '@keywarden/common';
import type { KeyLifecycle, KeyLifecycleOptions } from '@keywarden/key-lifecycle';
import { adminV1 } from '@keywarden/proto';
import { startRedis, TestRedis } from './redis';
import { SentinelSetOptions, startSentinelSet, TestSentinelSet } from './sentinel';

export interface StackPki {
  /** The KMIP CA: signs the KMIP server certificate (and KMIP client certificates when a test wants CA-signed ones). */
  ca: Issued;
  /** KMIP server certificate for localhost. */
  server: Issued;
  /** The internal CA: the only one the gRPC servers trust. */
  internalCa: Issued;
  /** Internal identities, each with its role (URI SAN spiffe://keywarden/<role>). */
  gateway: TlsFiles;
  lifecycle: TlsFiles;
  wrapping: TlsFiles;
  /** An operator (role operator, name admin): the Admin API. */
  admin: TlsFiles;
}

export interface TestTenant {
  id: string;
  client: Issued;
}

export interface StackOptions {
  cacheTtlMs?: number;
  /**
   * Redis as a master with replicas and Sentinels (test/lib/sentinel.ts),
   * which key-lifecycle finds through the Sentinels, instead of one redis-server.
   */
  sentinel?: SentinelSetOptions;
  /** Further key-lifecycle options (durability, healthAddress, ...). */
  lifecycle?: Partial<KeyLifecycleOptions>;
}

export interface TestStack {
  pki: StackPki;
  /** The Redis server; with `sentinel`, the first master (sentinel.nodes[0]). */
  redis: TestRedis;
  sentinel?: TestSentinelSet;
  lifecycle: KeyLifecycle;
  emulatorUrl: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  emulator: any;
  wrappingPort: number;
  lifecyclePort: number;
  admin: adminV1.AdminClient;
  adminCall<Req, Res>(method: keyof adminV1.AdminClient, req: Req): Promise<Res>;
  /** Creates a tenant with a fresh root key in the emulator and a registered client certificate. */
  createTenant(id?: string): Promise<TestTenant>;
  close(): Promise<void>;
}

function files(ca: Issued, i: Issued): TlsFiles {
  return { ca: Buffer.from(ca.cert), cert: Buffer.from(i.cert), key: Buffer.from(i.key) };
}

export function makePki(): StackPki {
  const ca = createCa('keywarden test KMIP CA');
  const server = issueCertificate(ca, { commonName: 'localhost', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] });
  const internalCa = createCa('keywarden test internal CA');
  const id = (role: Role, roleName?: string) => files(internalCa, issueCertificate(internalCa, internalIdentity(role, { roleName })));
  return {
    ca, server, internalCa,
    gateway: id('kmip-gateway'), lifecycle: id('key-lifecycle'), wrapping: id('crk-wrapping'), admin: id('operator', 'admin'),
  };
}

export async function startStack(o: StackOptions = {}): Promise<TestStack> {
  // Imported lazily so suites that only need the PKI do not load every service.
  const { startEmulator } = await import('@keywarden/keyprotect-emulator');
  const { startCrkWrapping } = await import('@keywarden/crk-wrapping');
  const { startKeyLifecycle } = await import('@keywarden/key-lifecycle');
  const pki = makePki();
  const sentinel = o.sentinel ? await startSentinelSet(o.sentinel) : undefined;
  const redis = sentinel ? sentinel.nodes[0] : await startRedis();
  const emulator = await startEmulator({ port: 0 });
  const wrapping = await startCrkWrapping({ address: '127.0.0.1:0', tls: pki.wrapping, masterKey: randomBytes(32), allowHttp: true, providerHosts: [new URL(emulator.url).host] });
  const lifecycle = await startKeyLifecycle({
    address: '127.0.0.1:0', tls: pki.lifecycle,
    redis: sentinel ? { sentinels: sentinel.sentinels, name: sentinel.name, password: sentinel.password } : { url: redis.url },
    wrappingAddress: `localhost:${wrapping.port}`, wrappingTls: pki.lifecycle, cacheTtlMs: o.cacheTtlMs,
    ...o.lifecycle,
  });
  const admin = new adminV1.AdminClient(`localhost:${lifecycle.port}`, channelCredentials(pki.admin), channelOptions());
  const adminCall = <Req, Res>(method: keyof adminV1.AdminClient, req: Req): Promise<Res> => new Promise((resolve, reject) => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (admin as any)[method](req, (err: Error | null, res: Res) => (err ? reject(err) : resolve(res)));
  });
  const stack: TestStack = {
    pki, redis, sentinel, lifecycle, emulator, emulatorUrl: emulator.url, wrappingPort: wrapping.port, lifecyclePort: lifecycle.port, admin, adminCall,
    async createTenant(id = `t-${randomUUID().slice(0, 8)}`) {
      // The emulator refuses instances nobody created, as Key Protect does.
      const instanceId = randomUUID();
      emulator.createInstance(instanceId);
      await adminCall('createTenant', {
        id, name: id,
        provider: { kind: adminV1.ProviderKind.PROVIDER_KIND_KEYPROTECT, endpoint: emulator.url, iamEndpoint: emulator.url, instanceId, crkId: '' },
        credential: 'test-api-key', createRootKey: true,
      });
      const client = issueCertificate(null, { commonName: `vcenter-${id}`, usage: 'client' });
      await adminCall('addCertificate', { tenantId: id, pem: client.cert });
      return { id, client };
    },
    async close() {
      admin.close();
      await lifecycle.close();
      await wrapping.close();
      await emulator.close();
      await (sentinel ?? redis).stop();
    },
  };
  return stack;
}
