// Trust boundaries of the gRPC services (docs/architecture.md, "Trust model"),
// each attack as it was reproduced against the single-CA stack: who may use
// the Admin API, who may act for which certificate on KeyLifecycle, and who
// may call crk-wrapping at all. Real key-lifecycle, crk-wrapping, emulator
// and Redis over mTLS.
import { generateKeyPairSync, randomBytes } from 'crypto';
import Redis from 'ioredis';
import forge from 'node-forge';
import {
  certFingerprint, channelCredentials, createCa, grpc, internalIdentity, issueCertificate, Issued, IssueOptions, roleUri, signCsr, createCsr, TlsFiles,
} from '@keywarden/common';
import { ObjectType, ResultReason } from '@keywarden/kmip';
import { adminV1, lifecycleV1, wrappingV1 } from '@keywarden/proto';
import { aesTemplate, failure, rpc, Stack, startStack, TenantHandle } from './stack';

jest.setTimeout(30_000);

let s: Stack;
let redis: Redis;
let a: TenantHandle;
let b: TenantHandle;
let uidB: string;

beforeAll(async () => {
  s = await startStack();
  redis = new Redis(s.redis.url);
  a = await s.addTenant('trust-a');
  b = await s.addTenant('trust-b');
  uidB = (await s.call<lifecycleV1.CreateResponse>('create', { caller: b.caller, objectType: ObjectType.SymmetricKey, attributes: aesTemplate() })).uniqueIdentifier;
});

afterAll(async () => {
  redis?.disconnect();
  await s?.close();
});

/** A client identity that trusts the services' (internal) CA. */
const files = (i: Issued): TlsFiles => ({ ca: Buffer.from(s.ca.cert), cert: Buffer.from(i.cert), key: Buffer.from(i.key) });
/** A certificate of the internal CA (the one the services trust), with exactly these options. */
const internal = (o: IssueOptions) => issueCertificate(s.ca, o);

/** An internal-CA client certificate with exactly this subject (several CNs, none, ...) and no SAN. */
function withSubject(attrs: Array<[string, string]>): Issued {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const c = forge.pki.createCertificate();
  c.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  c.serialNumber = '01' + randomBytes(8).toString('hex');
  c.validity.notBefore = new Date(Date.now() - 60_000);
  c.validity.notAfter = new Date(Date.now() + 86_400_000);
  const caCert = forge.pki.certificateFromPem(s.ca.cert);
  c.setSubject(attrs.map(([shortName, value]) => ({ shortName, value })));
  c.setIssuer(caCert.subject.attributes);
  c.setExtensions([{ name: 'extKeyUsage', clientAuth: true }]);
  c.sign(forge.pki.privateKeyFromPem(s.ca.key), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(c), key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

function clients(tls: TlsFiles) {
  const creds = channelCredentials(tls);
  const made = {
    admin: new adminV1.AdminClient(s.address, creds),
    lc: new lifecycleV1.KeyLifecycleClient(s.address, creds),
    wrap: new wrappingV1.CrkWrappingClient(s.wrappingAddress, creds),
  };
  toClose.push(made.admin, made.lc, made.wrap);
  return made;
}
const toClose: grpc.Client[] = [];
afterEach(() => {
  for (const c of toClose.splice(0)) c.close();
});

async function auditOf(op: string, fingerprint: string): Promise<Record<string, string> | undefined> {
  const entries = await redis.xrevrange('kw:audit', '+', '-', 'COUNT', 200);
  for (const [, kv] of entries) {
    const e: Record<string, string> = {};
    for (let i = 0; i < kv.length; i += 2) e[kv[i]] = kv[i + 1];
    if (e.op === op && e.cert === fingerprint) return e;
  }
  return undefined;
}

describe('the Admin API admits operators only', () => {
  it('refuses a certificate signed for a vCenter CSR with CN "admin" (it is not even of the internal CA)', async () => {
    // The attack: the KMIP-facing CA signed any CSR, and the Admin API took any CN "admin" of that CA.
    const kmipCa = createCa('KMIP CA');
    const csr = createCsr('admin');
    const evil = { cert: signCsr(kmipCa, csr.csr, { usage: 'client' }), key: csr.key };
    const c = clients(files(evil));
    const f = await failure(rpc(c.admin, 'listTenants', {}));
    expect(f.code).toBe(grpc.status.UNAVAILABLE); // the TLS handshake fails: not the internal CA
  });

  it('refuses internal certificates without the operator role, whatever their CN', async () => {
    const cases: Array<[string, TlsFiles]> = [
      ['CN admin, no role', files(internal({ commonName: 'admin', usage: 'client' }))],
      ['CN operator, DNS SAN admin', files(internal({ commonName: 'operator', usage: 'client', dnsNames: ['admin'] }))],
      ['the gateway', s.gatewayTls],
      ['key-lifecycle', s.lifecycleTls],
      ['operator and gateway roles at once', files(internal({ commonName: 'both', usage: 'client', uris: [roleUri('operator', 'x'), roleUri('kmip-gateway')] }))],
      ['a role that does not exist', files(internal({ commonName: 'root', usage: 'client', uris: ['spiffe://keywarden/root'] }))],
      ['the operator URI in another trust domain', files(internal({ commonName: 'admin', usage: 'client', uris: ['spiffe://keywarden.evil/operator'] }))],
      ['a wildcard subject', files(internal({ commonName: '*', usage: 'client', uris: ['spiffe://keywarden/*'] }))],
      ['several CNs, one of them "admin"', files(withSubject([['CN', 'vcenter'], ['CN', 'admin'], ['CN', 'operator']]))],
      ['an empty subject', files(withSubject([]))],
    ];
    for (const [what, tls] of cases) {
      const c = clients(tls);
      const f = await failure(rpc(c.admin, 'listTenants', {}));
      expect({ what, code: f.code }).toEqual({ what, code: grpc.status.PERMISSION_DENIED });
      expect(f.message).toContain('operator');
    }
  });

  it('admits an operator certificate and records the operator and the refused callers in the audit', async () => {
    const alice = internal({ ...internalIdentity('operator', { roleName: 'alice' }), usage: 'client' });
    const c = clients(files(alice));
    const list = await rpc<adminV1.ListTenantsResponse>(c.admin, 'listTenants', {});
    expect(list.tenants.map((t) => t.id)).toEqual(expect.arrayContaining(['trust-a', 'trust-b']));
    expect(await auditOf('Admin.ListTenants', certFingerprint(alice.cert))).toMatchObject({ result: 'ok', operator: 'alice' });

    const intruder = internal({ commonName: 'admin', usage: 'client' });
    await failure(rpc(clients(files(intruder)).admin, 'shredRootKey', { tenantId: 'trust-a', confirmTenantId: 'trust-a' }));
    expect(await auditOf('Admin.ShredRootKey', certFingerprint(intruder.cert))).toMatchObject({ result: 'PERMISSION_DENIED', tenant: 'trust-a' });
  });

  it('refuses expired and not-yet-valid operator certificates at the handshake', async () => {
    const day = 86_400_000;
    for (const [notBefore, notAfter] of [[Date.now() - 3 * day, Date.now() - day], [Date.now() + day, Date.now() + 3 * day]]) {
      const op = internal({ ...internalIdentity('operator', { roleName: 'late' }), usage: 'client', notBefore: new Date(notBefore), notAfter: new Date(notAfter) });
      expect((await failure(rpc(clients(files(op)).admin, 'listTenants', {}))).code).toBe(grpc.status.UNAVAILABLE);
    }
  });

  it('audits a tenant creation with its id and the provider fields it set, never the credential', async () => {
    const alice = internal({ ...internalIdentity('operator', { roleName: 'alice' }), usage: 'client' });
    const c = clients(files(alice));
    await rpc(c.admin, 'createTenant', {
      id: 'trust-audited', name: 'x', createRootKey: true, credential: 'api-key-trust-audited',
      provider: { kind: adminV1.ProviderKind.PROVIDER_KIND_KEYPROTECT, endpoint: s.emulator.url, iamEndpoint: s.emulator.url, instanceId: 'i-audited', crkId: '' },
    });
    const e = await auditOf('Admin.CreateTenant', certFingerprint(alice.cert));
    expect(e).toMatchObject({ tenant: 'trust-audited', result: 'ok', operator: 'alice', endpoint: s.emulator.url, iamEndpoint: s.emulator.url, instanceId: 'i-audited', credentialSource: 'sealed' });
    expect(e?.changed.split(',')).toEqual(expect.arrayContaining(['endpoint', 'iamEndpoint', 'instanceId', 'crkId', 'credential']));
    expect(JSON.stringify(e)).not.toContain('api-key-trust-audited');
  });
});

describe('KeyLifecycle: only a gateway acts for another certificate', () => {
  it("refuses an internal certificate that names another tenant's client as its caller", async () => {
    // The attack: any internal-CA certificate set caller.cert_fingerprint to a fingerprint it had seen, and got that tenant's key.
    const platform = internal({ commonName: 'some-platform', usage: 'client' });
    const c = clients(files(platform));
    const f = await failure(rpc(c.lc, 'get', { caller: b.caller, uniqueIdentifier: uidB }));
    expect(f).toMatchObject({ code: grpc.status.PERMISSION_DENIED, reason: ResultReason.PermissionDenied });
    expect(f.message).toContain('only a KMIP gateway');
    expect(await auditOf('Get', certFingerprint(platform.cert))).toMatchObject({ result: 'PERMISSION_DENIED' });
  });

  it('lets an internal platform act as itself once its own certificate is registered to a tenant', async () => {
    const platform = internal({ commonName: 'backup-platform', usage: 'client' });
    const c = clients(files(platform));
    // Not registered: refused like an unknown KMIP client.
    expect(await failure(rpc(c.lc, 'create', { objectType: ObjectType.SymmetricKey, attributes: aesTemplate() })))
      .toMatchObject({ code: grpc.status.PERMISSION_DENIED, message: expect.stringContaining('not registered') });
    await s.adm('addCertificate', { tenantId: a.id, pem: platform.cert });
    const own = { certFingerprint: certFingerprint(platform.cert) };
    const uid = (await rpc<lifecycleV1.CreateResponse>(c.lc, 'create', { objectType: ObjectType.SymmetricKey, attributes: aesTemplate() })).uniqueIdentifier;
    // Its own fingerprint spelled out is the same caller; tenant A's keys, not B's.
    expect((await rpc<lifecycleV1.GetResponse>(c.lc, 'get', { caller: own, uniqueIdentifier: uid })).keyMaterial).toHaveLength(32);
    expect((await failure(rpc(c.lc, 'get', { uniqueIdentifier: uidB }))).code).toBe(grpc.status.NOT_FOUND);
    expect((await failure(rpc(c.lc, 'get', { caller: a.caller, uniqueIdentifier: uid }))).code).toBe(grpc.status.PERMISSION_DENIED);
  });

  it("refuses keywarden's own roles other than the gateway, and a badly named role", async () => {
    const cases: Array<[string, TlsFiles]> = [
      ['an operator', s.adminTls],
      ['key-lifecycle', s.lifecycleTls],
      ['two roles', files(internal({ commonName: 'x', usage: 'client', uris: [roleUri('kmip-gateway'), roleUri('operator')] }))],
    ];
    for (const [what, tls] of cases) {
      const f = await failure(rpc(clients(tls).lc, 'get', { caller: b.caller, uniqueIdentifier: uidB }));
      expect({ what, code: f.code }).toEqual({ what, code: grpc.status.PERMISSION_DENIED });
    }
  });

  it('streams access revocations to gateways only', async () => {
    const platform = internal({ commonName: 'watcher', usage: 'client' });
    const c = clients(files(platform));
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      const st = c.lc.watchAccessRevocations({});
      st.on('error', resolve);
      st.on('data', () => undefined);
    });
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
  });

  it('refuses to register an internal identity as a KMIP client', async () => {
    for (const pem of [s.gatewayTls.cert, s.adminTls.cert]) {
      const f = await failure(s.adm('addCertificate', { tenantId: a.id, pem: pem.toString() }));
      expect(f.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(f.message).toMatch(/internal .* identity|keywarden role/);
    }
  });
});

describe('crk-wrapping answers key-lifecycle alone', () => {
  const provider = (t: TenantHandle): wrappingV1.Provider => ({
    kind: wrappingV1.ProviderKind.PROVIDER_KIND_KEYPROTECT, endpoint: s.emulator.url, iamEndpoint: s.emulator.url,
    instanceId: t.instanceId, crkId: t.crkId, credentialRef: '',
  });

  it('refuses the gateway, an operator and a platform certificate', async () => {
    const platform = files(internal({ commonName: 'key-lifecycle', usage: 'client', dnsNames: ['key-lifecycle'] }));
    for (const [what, tls] of [['gateway', s.gatewayTls], ['operator', s.adminTls], ['CN key-lifecycle without the role', platform]] as const) {
      const w = clients(tls).wrap;
      const calls: Array<[string, unknown]> = [
        ['sealCredential', wrappingV1.SealCredentialRequest.fromPartial({ credential: Buffer.from('x') })],
        ['checkRootKey', wrappingV1.CheckRootKeyRequest.fromPartial({ provider: provider(a) })],
      ];
      for (const [m, req] of calls) {
        const f = await failure(rpc(w, m, req));
        expect({ what, m, code: f.code }).toEqual({ what, m, code: grpc.status.PERMISSION_DENIED });
        expect(f.message).toContain('key-lifecycle');
      }
    }
  });

  it('serves key-lifecycle', async () => {
    const w = clients(s.lifecycleTls).wrap;
    const sealed = await rpc<wrappingV1.SealCredentialResponse>(w, 'sealCredential', wrappingV1.SealCredentialRequest.fromPartial({ credential: Buffer.from('k') }));
    expect(sealed.credentialRef).toMatch(/^sealed:/);
  });
});
