// The Admin API the console needs (real Redis, crk-wrapping, emulator, mTLS):
// RevokeKey/DestroyKey with KMIP semantics, ListAudit, operator accounts, and
// the console identity acting for the person signed in to it.
import { randomUUID } from 'crypto';
import { certFingerprint, channelCredentials, grpc, hashPassword, internalIdentity, issueCertificate, TlsFiles } from '@keywarden/common';
import { ObjectType, RevocationReasonCode, State } from '@keywarden/kmip';
import { adminV1, lifecycleV1 } from '@keywarden/proto';
import { ACTING_OPERATOR_METADATA, OPERATOR_EPOCH_METADATA } from '../src/admin-service';
import { MAX_FAILURES } from '../src/admin/operators';
import { aesTemplate, failure, Stack, startStack, TenantHandle } from './stack';

jest.setTimeout(60_000);

let s: Stack;
let consoleTls: TlsFiles;
let consoleAdmin: adminV1.AdminClient;
let t: TenantHandle;
const ADMIN = adminV1.OperatorRole.OPERATOR_ROLE_ADMIN;
const VIEWER = adminV1.OperatorRole.OPERATOR_ROLE_VIEWER;

/**
 * A tenant with a root key in the emulator and a registered client. The
 * emulator's instance is provisioned first where the emulator wants that.
 */
async function addTenant(id = `c-${randomUUID().slice(0, 8)}`): Promise<TenantHandle> {
  const instanceId = randomUUID();
  (s.emulator as { createInstance?: (i: string) => void }).createInstance?.(instanceId);
  const created = await s.adm<adminV1.Tenant>('createTenant', {
    id, name: id, createRootKey: true, credential: `api-key-${id}`,
    provider: { kind: adminV1.ProviderKind.PROVIDER_KIND_KEYPROTECT, endpoint: s.emulator.url, iamEndpoint: s.emulator.url, instanceId, crkId: '' },
  });
  const client = issueCertificate(s.ca, { commonName: `vcenter-${id}`, usage: 'client' });
  await s.adm('addCertificate', { tenantId: id, pem: client.cert });
  return { id, crkId: created.provider?.crkId ?? '', instanceId, caller: { certFingerprint: certFingerprint(client.cert) }, client };
}

const tlsOf = (cert: { cert: string; key: string }): TlsFiles => ({ ca: Buffer.from(s.ca.cert), cert: Buffer.from(cert.cert), key: Buffer.from(cert.key) });

beforeAll(async () => {
  s = await startStack({ cacheTtlMs: 0 });
  consoleTls = tlsOf(issueCertificate(s.ca, { ...internalIdentity('operator', { roleName: 'console' }), usage: 'client' }));
  consoleAdmin = new adminV1.AdminClient(s.address, channelCredentials(consoleTls));
  t = await addTenant('console-t');
});

afterAll(async () => {
  consoleAdmin?.close();
  await s?.close();
});

/** A unary Admin call with request metadata (what the console sends). */
function call<Res>(client: adminV1.AdminClient, method: string, req: object, md: Record<string, string> = {}): Promise<Res> {
  const m = new grpc.Metadata();
  for (const [k, v] of Object.entries(md)) m.set(k, v);
  const type = `${method[0].toUpperCase()}${method.slice(1)}Request` as keyof typeof adminV1;
  const full = (adminV1[type] as { fromPartial(o: object): object }).fromPartial(req);
  return new Promise((resolve, reject) => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (client as any)[method](full, m, { deadline: Date.now() + 20_000 }, (e: Error | null, r: Res) => (e ? reject(e) : resolve(r)));
  });
}

async function newKey(): Promise<string> {
  return (await s.call<lifecycleV1.CreateResponse>('create', { caller: t.caller, objectType: ObjectType.SymmetricKey, attributes: aesTemplate() })).uniqueIdentifier;
}

async function activeKey(): Promise<string> {
  const uid = await newKey();
  await s.call('activate', { caller: t.caller, uniqueIdentifier: uid });
  return uid;
}

async function lastAudit(op: string): Promise<adminV1.AuditEntry | undefined> {
  return (await s.adm<adminV1.ListAuditResponse>('listAudit', { op, limit: 1 })).entries[0];
}

describe('RevokeKey and DestroyKey', () => {
  it('revoke for compromise: Compromised, audited with the operator; KMIP Get still serves it (4.20), Activate is refused', async () => {
    const uid = await activeKey();
    const k = await s.adm<adminV1.KeyInfo>('revokeKey', {
      tenantId: t.id, uniqueIdentifier: uid, confirmUniqueIdentifier: uid, revocationReasonCode: RevocationReasonCode.KeyCompromise, revocationMessage: 'laptop stolen',
    });
    expect(k.state).toBe(State.Compromised);
    expect((await s.adm<adminV1.KeyInfo>('getKey', { tenantId: t.id, uniqueIdentifier: uid })).state).toBe(State.Compromised);
    const a = await lastAudit('Admin.RevokeKey');
    expect(a).toMatchObject({ tenantId: t.id, uniqueIdentifier: uid, result: 'ok', operator: 'admin' });
    expect(a?.detail.revocationReason).toBe(String(RevocationReasonCode.KeyCompromise));
    expect((await failure(s.call('activate', { caller: t.caller, uniqueIdentifier: uid }))).code).toBe(grpc.status.FAILED_PRECONDITION);
  });

  it('revoke for another reason needs an Active key, as KMIP Revoke does; nothing changes when refused', async () => {
    const uid = await newKey();
    const f = await failure(s.adm('revokeKey', { tenantId: t.id, uniqueIdentifier: uid, confirmUniqueIdentifier: uid, revocationReasonCode: RevocationReasonCode.CessationOfOperation }));
    expect(f).toMatchObject({ code: grpc.status.FAILED_PRECONDITION, message: expect.stringContaining('Pre-Active') });
    expect((await s.adm<adminV1.KeyInfo>('getKey', { tenantId: t.id, uniqueIdentifier: uid })).state).toBe(State.PreActive);
  });

  it('refuses a confirmation that does not repeat the uid, no reason, an unknown key or tenant', async () => {
    const uid = await activeKey();
    const req = { tenantId: t.id, uniqueIdentifier: uid, revocationReasonCode: RevocationReasonCode.KeyCompromise };
    expect((await failure(s.adm('revokeKey', { ...req, confirmUniqueIdentifier: 'other' }))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await failure(s.adm('revokeKey', { ...req, confirmUniqueIdentifier: uid, revocationReasonCode: 0 }))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await failure(s.adm('destroyKey', { tenantId: t.id, uniqueIdentifier: uid, confirmUniqueIdentifier: `${uid} ` }))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await failure(s.adm('revokeKey', { ...req, uniqueIdentifier: 'nope', confirmUniqueIdentifier: 'nope' }))).code).toBe(grpc.status.NOT_FOUND);
    expect((await failure(s.adm('destroyKey', { tenantId: 'no-such', uniqueIdentifier: uid, confirmUniqueIdentifier: uid }))).code).toBe(grpc.status.NOT_FOUND);
    expect((await s.adm<adminV1.KeyInfo>('getKey', { tenantId: t.id, uniqueIdentifier: uid })).state).toBe(State.Active);
  });

  it('destroy refuses an Active key (revoke first), then destroys: KMIP Get is refused and the sealed object is gone', async () => {
    const uid = await activeKey();
    await s.call('get', { caller: t.caller, uniqueIdentifier: uid });
    const sealedBefore = JSON.stringify((await s.keyProtect('GET', 'keys?limit=5000', t.instanceId)).body).includes(`kmip-${uid}`);
    expect(sealedBefore).toBe(true);
    expect((await failure(s.adm('destroyKey', { tenantId: t.id, uniqueIdentifier: uid, confirmUniqueIdentifier: uid }))).message).toMatch(/revoke it before destroying/);
    await s.adm('revokeKey', { tenantId: t.id, uniqueIdentifier: uid, confirmUniqueIdentifier: uid, revocationReasonCode: RevocationReasonCode.Superseded });
    const k = await s.adm<adminV1.KeyInfo>('destroyKey', { tenantId: t.id, uniqueIdentifier: uid, confirmUniqueIdentifier: uid });
    expect(k.state).toBe(State.Destroyed);
    expect(await failure(s.call('get', { caller: t.caller, uniqueIdentifier: uid }))).toMatchObject({ code: grpc.status.FAILED_PRECONDITION, message: expect.stringMatching(/destroyed/) });
    expect(await s.adm('probeKey', { tenantId: t.id, uniqueIdentifier: uid })).toMatchObject({ usable: false });
    const sealed = async () => JSON.stringify((await s.keyProtect('GET', 'keys?limit=5000', t.instanceId)).body).includes(`kmip-${uid}`);
    expect(await sealed()).toBe(false);
    expect(await lastAudit('Admin.DestroyKey')).toMatchObject({ uniqueIdentifier: uid, result: 'ok' });
  });
});

describe('ListAudit', () => {
  it('filters by tenant, certificate, operation and result, newest first, and pages', async () => {
    const other = await addTenant();
    const uids = [await newKey(), await newKey(), await newKey()];
    await failure(s.call('get', { caller: other.caller, uniqueIdentifier: uids[0] })); // another tenant's key: refused
    const creates = await s.adm<adminV1.ListAuditResponse>('listAudit', { tenantId: t.id, op: 'Create', cert: t.caller.certFingerprint.toUpperCase() });
    expect(creates.entries.slice(0, 3).map((e) => e.uniqueIdentifier)).toEqual([...uids].reverse());
    for (const e of creates.entries) expect(e).toMatchObject({ tenantId: t.id, op: 'Create', cert: t.caller.certFingerprint, result: 'ok' });
    const refused = await s.adm<adminV1.ListAuditResponse>('listAudit', { cert: other.caller.certFingerprint, result: 'failed' });
    expect(refused.entries[0]).toMatchObject({ op: 'Get', uniqueIdentifier: uids[0], result: 'NOT_FOUND' });
    expect(refused.entries[0].reason).toBeGreaterThan(0);
    expect((await s.adm<adminV1.ListAuditResponse>('listAudit', { cert: other.caller.certFingerprint, result: 'ok', op: 'Get' })).entries).toEqual([]);

    const page1 = await s.adm<adminV1.ListAuditResponse>('listAudit', { tenantId: t.id, op: 'Create', limit: 2 });
    const page2 = await s.adm<adminV1.ListAuditResponse>('listAudit', { tenantId: t.id, op: 'Create', limit: 2, pageToken: page1.nextPageToken });
    expect(page1.entries.map((e) => e.uniqueIdentifier)).toEqual([uids[2], uids[1]]);
    expect(page2.entries[0].uniqueIdentifier).toBe(uids[0]);
    expect((await failure(s.adm('listAudit', { pageToken: 'x' }))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await failure(s.adm('listAudit', { cert: 'zz' }))).code).toBe(grpc.status.INVALID_ARGUMENT);
  });
});

describe('operator accounts', () => {
  it('stores only a strong scrypt hash and never returns it; names are unique; "console" is reserved', async () => {
    const hash = await hashPassword('correct horse battery');
    const op = await s.adm<adminV1.Operator>('addOperator', { name: 'carol', role: ADMIN, passwordHash: hash });
    expect(op).toMatchObject({ name: 'carol', role: ADMIN });
    expect(JSON.stringify(await s.adm('listOperators', {}))).not.toContain(hash.split('$')[4]);
    expect((await s.adm<adminV1.ListOperatorsResponse>('listOperators', {})).operators.map((o) => o.name)).toContain('carol');
    expect((await failure(s.adm('addOperator', { name: 'carol', role: VIEWER, passwordHash: hash }))).code).toBe(grpc.status.ALREADY_EXISTS);
    const weak = await hashPassword('correct horse battery', { ln: 10, r: 8, p: 1 });
    expect(await failure(s.adm('addOperator', { name: 'dave', role: ADMIN, passwordHash: weak }))).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, message: expect.stringMatching(/too cheap/) });
    expect((await failure(s.adm('addOperator', { name: 'dave', role: ADMIN, passwordHash: 'correct horse battery' }))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await failure(s.adm('addOperator', { name: 'Console', role: ADMIN, passwordHash: hash }))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await failure(s.adm('addOperator', { name: 'a/b', role: ADMIN, passwordHash: hash }))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await failure(s.adm('addOperator', { name: 'erin', role: 0, passwordHash: hash }))).code).toBe(grpc.status.INVALID_ARGUMENT);
    await s.adm('removeOperator', { name: 'carol' });
    expect((await failure(s.adm('removeOperator', { name: 'carol' }))).code).toBe(grpc.status.NOT_FOUND);
  });
});

describe('the console identity acts for the person signed in', () => {
  let epoch: string;
  let viewerEpoch: string;

  beforeAll(async () => {
    await s.adm('addOperator', { name: 'alice', role: ADMIN, passwordHash: await hashPassword('alice password 1') });
    await s.adm('addOperator', { name: 'victor', role: VIEWER, passwordHash: await hashPassword('victor password 1') });
    epoch = (await call<adminV1.OperatorSession>(consoleAdmin, 'verifyOperatorPassword', { name: 'alice', password: 'alice password 1' })).epoch;
    viewerEpoch = (await call<adminV1.OperatorSession>(consoleAdmin, 'verifyOperatorPassword', { name: 'victor', password: 'victor password 1' })).epoch;
  });

  const as = (name: string, e: string) => ({ [ACTING_OPERATOR_METADATA]: name, [OPERATOR_EPOCH_METADATA]: e });

  it('checks passwords: right, wrong, unknown account; audits who tried, never the password', async () => {
    const ok = await call<adminV1.OperatorSession>(consoleAdmin, 'verifyOperatorPassword', { name: 'alice', password: 'alice password 1' });
    expect(ok).toMatchObject({ operator: { name: 'alice', role: ADMIN }, epoch });
    const wrong = await failure(call(consoleAdmin, 'verifyOperatorPassword', { name: 'alice', password: 'alice password 2' }));
    expect(wrong).toMatchObject({ code: grpc.status.UNAUTHENTICATED, message: 'wrong operator name or password' });
    const unknown = await failure(call(consoleAdmin, 'verifyOperatorPassword', { name: 'nobody', password: 'alice password 1' }));
    expect(unknown).toMatchObject({ code: grpc.status.UNAUTHENTICATED, message: 'wrong operator name or password' });
    const a = await lastAudit('Admin.VerifyOperatorPassword');
    expect(a).toMatchObject({ operator: 'nobody', result: 'UNAUTHENTICATED', cert: certFingerprint(consoleTls.cert.toString()) });
    expect(JSON.stringify(a)).not.toContain('alice password');
  });

  it(`refuses sign-in after ${MAX_FAILURES} failures of one account, even with the right password; set-password forgives`, async () => {
    await s.adm('addOperator', { name: 'mallet', role: VIEWER, passwordHash: await hashPassword('mallet password 1') });
    for (let i = 0; i < MAX_FAILURES; i++) await failure(call(consoleAdmin, 'verifyOperatorPassword', { name: 'mallet', password: `guess ${i} guess` }));
    const locked = await failure(call(consoleAdmin, 'verifyOperatorPassword', { name: 'mallet', password: 'mallet password 1' }));
    expect(locked).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED, message: expect.stringMatching(/too many failed sign-ins for "mallet"; try again in \d+ minute/) });
    await s.adm('setOperatorPassword', { name: 'mallet', passwordHash: await hashPassword('mallet password 2') });
    expect(await call(consoleAdmin, 'verifyOperatorPassword', { name: 'mallet', password: 'mallet password 2' })).toMatchObject({ operator: { name: 'mallet' } });
  });

  it('an admin changes keys through the console; the audit names the person, via the console', async () => {
    const uid = await activeKey();
    await call(consoleAdmin, 'revokeKey', { tenantId: t.id, uniqueIdentifier: uid, confirmUniqueIdentifier: uid, revocationReasonCode: RevocationReasonCode.KeyCompromise }, as('alice', epoch));
    const a = await lastAudit('Admin.RevokeKey');
    expect(a).toMatchObject({ uniqueIdentifier: uid, operator: 'alice', result: 'ok', cert: certFingerprint(consoleTls.cert.toString()) });
    expect(a?.detail.via).toBe('console');
  });

  it('a viewer reads and changes nothing; the refusal is audited with the viewer', async () => {
    expect((await call<adminV1.ListTenantsResponse>(consoleAdmin, 'listTenants', {}, as('victor', viewerEpoch))).tenants.map((x) => x.id)).toContain(t.id);
    await call(consoleAdmin, 'listAudit', { limit: 1 }, as('victor', viewerEpoch));
    const uid = await activeKey();
    for (const [m, req] of [
      ['revokeKey', { tenantId: t.id, uniqueIdentifier: uid, confirmUniqueIdentifier: uid, revocationReasonCode: RevocationReasonCode.KeyCompromise }],
      ['destroyKey', { tenantId: t.id, uniqueIdentifier: uid, confirmUniqueIdentifier: uid }],
      ['rotateRootKey', { tenantId: t.id }],
      ['removeCertificate', { fingerprint: t.caller.certFingerprint }],
      ['shredRootKey', { tenantId: t.id, confirmTenantId: t.id }],
    ] as const) {
      expect({ m, f: await failure(call(consoleAdmin, m, req, as('victor', viewerEpoch))) }).toMatchObject({ m, f: { code: grpc.status.PERMISSION_DENIED, message: 'operator "victor" is a viewer: read-only' } });
    }
    expect((await s.adm<adminV1.KeyInfo>('getKey', { tenantId: t.id, uniqueIdentifier: uid })).state).toBe(State.Active);
    expect(await lastAudit('Admin.ShredRootKey')).toMatchObject({ operator: 'victor', result: 'PERMISSION_DENIED' });
    expect(await lastAudit('Admin.DestroyKey')).toMatchObject({ operator: 'victor', result: 'PERMISSION_DENIED', uniqueIdentifier: uid });
  });

  it('ends a session whose password changed or whose account was removed; refuses calls naming no one', async () => {
    await s.adm('addOperator', { name: 'paul', role: ADMIN, passwordHash: await hashPassword('paul password 1') });
    const e = (await call<adminV1.OperatorSession>(consoleAdmin, 'verifyOperatorPassword', { name: 'paul', password: 'paul password 1' })).epoch;
    await call(consoleAdmin, 'listTenants', {}, as('paul', e));
    await s.adm('setOperatorPassword', { name: 'paul', passwordHash: await hashPassword('paul password 2') });
    expect(await failure(call(consoleAdmin, 'listTenants', {}, as('paul', e)))).toMatchObject({ code: grpc.status.UNAUTHENTICATED, message: expect.stringMatching(/password of "paul" was changed/) });
    const e2 = (await call<adminV1.OperatorSession>(consoleAdmin, 'verifyOperatorPassword', { name: 'paul', password: 'paul password 2' })).epoch;
    await s.adm('removeOperator', { name: 'paul' });
    expect((await failure(call(consoleAdmin, 'listTenants', {}, as('paul', e2)))).code).toBe(grpc.status.UNAUTHENTICATED);
    expect(await failure(call(consoleAdmin, 'listTenants', {}))).toMatchObject({ code: grpc.status.PERMISSION_DENIED, message: expect.stringMatching(/must name the operator/) });
  });

  it('the console may not manage accounts; other operators may not check passwords nor pose as someone else', async () => {
    const hash = await hashPassword('zed password 12');
    for (const [m, req] of [['addOperator', { name: 'zed', role: ADMIN, passwordHash: hash }], ['listOperators', {}], ['removeOperator', { name: 'alice' }], ['setOperatorPassword', { name: 'alice', passwordHash: hash }]] as const) {
      expect((await failure(call(consoleAdmin, m, req, as('alice', epoch)))).code).toBe(grpc.status.PERMISSION_DENIED);
    }
    expect((await failure(s.adm('verifyOperatorPassword', { name: 'alice', password: 'alice password 1' }))).code).toBe(grpc.status.PERMISSION_DENIED);
    // The "admin" operator certificate names someone else in the metadata: ignored, audited as itself.
    const uid = await activeKey();
    await call(s.admin, 'revokeKey', { tenantId: t.id, uniqueIdentifier: uid, confirmUniqueIdentifier: uid, revocationReasonCode: RevocationReasonCode.KeyCompromise }, as('alice', epoch));
    const a = await lastAudit('Admin.RevokeKey');
    expect(a).toMatchObject({ uniqueIdentifier: uid, operator: 'admin' });
    expect(a?.detail.via).toBeUndefined();
  });
});
