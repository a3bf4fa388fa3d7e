// The real pieces key-lifecycle works with, for integration tests: a Redis of
// its own (AOF, fsync always), the Key Protect emulator over HTTP, the real
// crk-wrapping service, and key-lifecycle itself, all gRPC over mTLS with
// certificates from a throwaway CA: the stack launcher's in-process mode
// (libs/stack), with the clients and helpers these tests use.
import { randomUUID } from 'crypto';
import {
  certFingerprint, channelCredentials, createCa, grpc, internalIdentity, issueCertificate, Issued, kmipReasonOf, Role, TlsFiles,
} from '@keywarden/common';
import type { CrkWrapping } from '@keywarden/crk-wrapping';
import type { Emulator } from '@keywarden/keyprotect-emulator';
import { adminV1, lifecycleV1 } from '@keywarden/proto';
import { startInProcess } from '@keywarden/stack';
import type { TestRedis } from '../../../test/lib/redis';
import type { KeyLifecycle, KeyLifecycleOptions } from '../src';

const tls = (ca: Issued, i: Issued): TlsFiles => ({ ca: Buffer.from(ca.cert), cert: Buffer.from(i.cert), key: Buffer.from(i.key) });

type Method = (req: unknown, md: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: (e: grpc.ServiceError | null, r: unknown) => void) => unknown;

type Messages = Record<string, { fromPartial?: (o: unknown) => unknown }>;

/** The request message of a method, completed with defaults: ts-proto encodes only whole messages. */
function complete(method: string, req: unknown): unknown {
  const type = `${method[0].toUpperCase()}${method.slice(1)}Request`;
  const m = (lifecycleV1 as unknown as Messages)[type] ?? (adminV1 as unknown as Messages)[type];
  return m?.fromPartial ? m.fromPartial(req) : req;
}

/** Promise form of a unary call on a generated client: rpc(client, 'get', req). */
export function rpc<Res>(client: grpc.Client, method: string, req: unknown, deadlineMs = 15_000): Promise<Res> {
  const fn = (client as unknown as Record<string, Method>)[method];
  return new Promise((resolve, reject) => {
    fn.call(client, complete(method, req), new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (e, r) => (e ? reject(e) : resolve(r as Res)));
  });
}

/** The failure of a call: gRPC code, KMIP Result Reason and message. */
export async function failure(p: Promise<unknown>): Promise<{ code: number; reason?: number; message: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as grpc.ServiceError;
    return { code: err.code, reason: kmipReasonOf(err), message: err.details };
  }
  throw new Error('expected the call to fail');
}

export interface TenantHandle {
  id: string;
  crkId: string;
  instanceId: string;
  caller: lifecycleV1.Caller;
  /** Client certificate of the tenant (a vCenter). */
  client: Issued;
}

export interface Stack {
  redis: TestRedis;
  emulator: Emulator;
  wrapping: CrkWrapping;
  lifecycle: KeyLifecycle;
  ca: Issued;
  address: string;
  /** KeyLifecycle API client (as the gateway). */
  lc: lifecycleV1.KeyLifecycleClient;
  /** Admin API client (as an operator). */
  admin: adminV1.AdminClient;
  /** key-lifecycle's own identity (role key-lifecycle: crk-wrapping's only client). */
  lifecycleTls: TlsFiles;
  /** A KMIP gateway's identity: may act for KMIP clients (`caller`), and watch revocations. */
  gatewayTls: TlsFiles;
  /** An operator's identity: the Admin API. */
  adminTls: TlsFiles;
  wrappingAddress: string;
  call<Res>(method: keyof lifecycleV1.KeyLifecycleClient, req: unknown): Promise<Res>;
  adm<Res>(method: keyof adminV1.AdminClient, req: unknown): Promise<Res>;
  addTenant(id?: string): Promise<TenantHandle>;
  /** Issues and registers another client certificate for a tenant. */
  addClient(tenantId: string): Promise<lifecycleV1.Caller>;
  /** Starts another key-lifecycle replica on the same Redis and crk-wrapping. */
  startReplica(extra?: Partial<KeyLifecycleOptions>): Promise<KeyLifecycle>;
  /** Key Protect REST against the emulator, as the customer would use it. */
  keyProtect(method: string, path: string, instanceId: string): Promise<{ status: number; body: unknown }>;
  close(): Promise<void>;
}

export async function startStack(opts: Partial<KeyLifecycleOptions> & { redisArgs?: string[] } = {}): Promise<Stack> {
  // The internal CA: the services, the gateway and operators each with their role.
  const ca = createCa('keywarden test internal CA');
  const id = (role: Role, roleName?: string) => tls(ca, issueCertificate(ca, internalIdentity(role, { roleName })));
  const wrappingTls = id('crk-wrapping');
  const lifecycleTls = id('key-lifecycle');
  const gatewayTls = id('kmip-gateway');
  const adminTls = id('operator', 'admin');

  // The emulator refuses instances nobody created: addTenant creates each tenant's; these are the
  // ones tests name themselves (admin, tenant-trust and trust tests).
  const { redisArgs, ...lcOpts } = opts;
  const inproc = await startInProcess({
    tls: { wrapping: wrappingTls, lifecycle: lifecycleTls }, redisArgs,
    emulator: { instances: ['i-1', 'i', 'i-trust', 'i-audited', 'another-instance'] },
    lifecycle: { destroySweepMs: 500, ...lcOpts },
  });
  const { redis, emulator, wrapping, lifecycle, wrappingAddress } = inproc;
  const address = `127.0.0.1:${lifecycle.port}`;
  const lc = new lifecycleV1.KeyLifecycleClient(address, channelCredentials(gatewayTls));
  const admin = new adminV1.AdminClient(address, channelCredentials(adminTls));
  const stack: Stack = {
    redis, emulator, wrapping, lifecycle, ca, address, lc, admin, lifecycleTls, gatewayTls, adminTls, wrappingAddress,
    call: (m, req) => rpc(lc, m as string, req),
    adm: (m, req) => rpc(admin, m as string, req),
    addClient: async (tenantId) => {
      const client = issueCertificate(ca, { commonName: `vcenter-${tenantId}-${randomUUID().slice(0, 8)}`, usage: 'client' });
      await stack.adm('addCertificate', { tenantId, pem: client.cert });
      return { certFingerprint: certFingerprint(client.cert) };
    },
    addTenant: async (id = `t-${randomUUID().slice(0, 8)}`) => {
      const instanceId = randomUUID();
      emulator.createInstance(instanceId);
      const t = await stack.adm<adminV1.Tenant>('createTenant', {
        id, name: id, createRootKey: true, credential: `api-key-${id}`,
        provider: { kind: adminV1.ProviderKind.PROVIDER_KIND_KEYPROTECT, endpoint: emulator.url, iamEndpoint: emulator.url, instanceId, crkId: '' },
      });
      const client = issueCertificate(ca, { commonName: `vcenter-${id}`, usage: 'client' });
      await stack.adm('addCertificate', { tenantId: id, pem: client.cert });
      return { id, crkId: t.provider?.crkId ?? '', instanceId: t.provider?.instanceId ?? '', caller: { certFingerprint: certFingerprint(client.cert) }, client };
    },
    startReplica: (extra = {}) => inproc.startLifecycle(extra),
    keyProtect: async (method, path, instanceId) => {
      const tok = await fetch(`${emulator.url}/identity/token`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=customer',
      }).then((r) => r.json() as Promise<{ access_token: string }>);
      const res = await fetch(`${emulator.url}/api/v2/${path}`, {
        method, headers: { authorization: `Bearer ${tok.access_token}`, 'bluemix-instance': instanceId },
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    close: async () => {
      lc.close();
      admin.close();
      await inproc.close();
    },
  };
  return stack;
}

/** A Symmetric Key template as vCenter sends it (vcenter.md: AES, 256, Encrypt|Decrypt). */
export function aesTemplate(extra: lifecycleV1.Attribute[] = []): lifecycleV1.Attribute[] {
  return [
    { name: 'Cryptographic Algorithm', index: 0, value: { enumeration: 3 } },
    { name: 'Cryptographic Length', index: 0, value: { integer: 256 } },
    { name: 'Cryptographic Usage Mask', index: 0, value: { integer: 12 } },
    ...extra,
  ];
}
