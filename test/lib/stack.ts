// The services in one process for tests: Redis (own port), the Key Protect
// emulator, crk-wrapping and key-lifecycle, all over real sockets with mTLS
// from a throwaway PKI; the stack launcher's in-process mode (libs/stack),
// with the Admin API and tenants as these tests use them.
import { randomUUID } from 'crypto';
import { Issued, Role, TlsFiles, channelCredentials, channelOptions, createCa, internalIdentity, issueCertificate } from '@keywarden/common';
import type { KeyLifecycle, KeyLifecycleOptions } from '@keywarden/key-lifecycle';
import { adminV1 } from '@keywarden/proto';
import { completeRequest, startInProcess } from '@keywarden/stack';
import type { TestRedis } from './redis';
import type { SentinelSetOptions, TestSentinelSet } from './sentinel';

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
  const pki = makePki();
  const s = await startInProcess({
    tls: { wrapping: pki.wrapping, lifecycle: pki.lifecycle }, sentinel: o.sentinel,
    wrapping: { allowHttp: true }, lifecycle: { cacheTtlMs: o.cacheTtlMs, ...o.lifecycle },
  });
  const { emulator, lifecycle } = s;
  const admin = new adminV1.AdminClient(`localhost:${lifecycle.port}`, channelCredentials(pki.admin), channelOptions());
  const adminCall = <Req, Res>(method: keyof adminV1.AdminClient, req: Req): Promise<Res> => new Promise((resolve, reject) => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (admin as any)[method](completeRequest(method, req), (err: Error | null, res: Res) => (err ? reject(err) : resolve(res)));
  });
  const stack: TestStack = {
    pki, redis: s.redis, sentinel: s.sentinel, lifecycle, emulator, emulatorUrl: emulator.url, wrappingPort: s.wrapping.port, lifecyclePort: lifecycle.port, admin, adminCall,
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
      await s.close();
    },
  };
  return stack;
}
