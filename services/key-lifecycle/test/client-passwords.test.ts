// Client certificate passwords in key-lifecycle (docs/kmip-gateway.md,
// "Client passwords"): set, cleared and listed through the Admin API, only as
// a scrypt hash; Identify says a password is required and checks one; setting
// or clearing it is streamed to gateways as a revocation; scrypt work is
// bounded. Real Redis, crk-wrapping, emulator, mTLS.
import Redis from 'ioredis';
import { certFingerprint, grpc, hashPassword, issueCertificate } from '@keywarden/common';
import { ResultReason } from '@keywarden/kmip';
import { adminV1, lifecycleV1 } from '@keywarden/proto';
import { checkClientPassword, passwordChecks, tooManyPasswordChecks } from '../src/client-passwords';
import { failure, Stack, startStack, TenantHandle } from './stack';
import { WatchedGate } from './watched-gate';

jest.setTimeout(60_000);

let s: Stack;
let redis: Redis;
/** Hashed once: each hash costs ~0.3 s. */
let hashA: string;
let hashB: string;
const A = 'correct horse battery staple';
const B = 'another long password, B';

beforeAll(async () => {
  s = await startStack();
  redis = new Redis(s.redis.url);
  [hashA, hashB] = await Promise.all([hashPassword(A), hashPassword(B)]);
});

afterAll(async () => {
  redis?.disconnect();
  await s?.close();
});

const identify = (t: TenantHandle, password?: string) =>
  s.call<lifecycleV1.IdentifyResponse>('identify', { caller: t.caller, ...(password !== undefined ? { password } : {}) });

const setPassword = (fingerprint: string, passwordHash: string) => s.adm<adminV1.Certificate>('setCertificatePassword', { fingerprint, passwordHash, clear: false });
const clearPassword = (fingerprint: string) => s.adm<adminV1.Certificate>('setCertificatePassword', { fingerprint, passwordHash: '', clear: true });

/** The fingerprints the revocation stream reports until `stop` is called. */
function watchRevocations(): { seen: string[]; ready: Promise<void>; stop(): void } {
  const seen: string[] = [];
  const call = s.lc.watchAccessRevocations({});
  call.on('data', (r: lifecycleV1.AccessRevoked) => seen.push(r.certFingerprint));
  call.on('error', () => undefined);
  const ready = new Promise<void>((resolve) => call.once('metadata', () => resolve()));
  return { seen, ready, stop: () => call.cancel() };
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('without a password, Identify answers the tenant alone and ignores a password it is given', async () => {
  const t = await s.addTenant();
  expect(await identify(t)).toEqual({ tenantId: t.id });
  expect(await identify(t, 'anything at all')).toEqual({ tenantId: t.id });
});

test('a password set is required and checked; a wrong one is Authentication Not Successful; it is stored only as its hash', async () => {
  const t = await s.addTenant();
  const fp = t.caller.certFingerprint;
  const set = await setPassword(fp, hashA);
  expect(set).toMatchObject({ fingerprint: fp, tenantId: t.id, passwordSet: true });

  const asked = await identify(t);
  expect(asked).toMatchObject({ tenantId: t.id, passwordRequired: true });
  expect(asked.passwordEpoch).toMatch(/^[A-Za-z0-9_-]{16}$/);
  expect(await identify(t, A)).toEqual(asked);
  const wrong = await failure(identify(t, 'not the password at all'));
  expect(wrong).toMatchObject({ code: grpc.status.UNAUTHENTICATED, reason: ResultReason.AuthenticationNotSuccessful });
  expect(wrong.message).toMatch(/not the one set for this client certificate/);

  // The hash is in Redis, never the password; the API says only whether there is one.
  const stored = await redis.hgetall(`kw:cert:${fp}`);
  expect(stored.passwordHash).toBe(hashA);
  expect(JSON.stringify(stored)).not.toContain(A);
  const listed = await s.adm<adminV1.ListCertificatesResponse>('listCertificates', { tenantId: t.id });
  expect(listed.certificates).toEqual([expect.objectContaining({ fingerprint: fp, passwordSet: true })]);
  expect(JSON.stringify(listed)).not.toContain('$scrypt$');

  // The audit names the outcome of each check, never the password (entries are written asynchronously).
  let audit: adminV1.ListAuditResponse = { entries: [], nextPageToken: '' };
  const checks = () => audit.entries.map((e) => e.detail.password).filter(Boolean).sort();
  for (const end = Date.now() + 5000; checks().length < 2 && Date.now() < end;) {
    await new Promise((r) => setTimeout(r, 50));
    audit = await s.adm<adminV1.ListAuditResponse>('listAudit', { cert: fp, op: 'Identify' });
  }
  expect(checks()).toEqual(['verified', 'wrong']);
  expect(JSON.stringify(audit)).not.toContain(A);

  // A new password: a new epoch, the old password is wrong now. Cleared: nothing is required.
  await setPassword(fp, hashB);
  const after = await identify(t, B);
  expect(after.passwordEpoch).not.toBe(asked.passwordEpoch);
  expect((await failure(identify(t, A))).code).toBe(grpc.status.UNAUTHENTICATED);
  expect(await clearPassword(fp)).toMatchObject({ passwordSet: false });
  expect(await identify(t)).toEqual({ tenantId: t.id });
  expect(await redis.hexists(`kw:cert:${fp}`, 'passwordHash')).toBe(0);
});

test('setting and clearing a password are streamed to the gateways as revocations of that certificate', async () => {
  const t = await s.addTenant();
  const other = await s.addTenant();
  const fp = t.caller.certFingerprint;
  const w = watchRevocations();
  try {
    await w.ready;
    await setPassword(fp, hashA);
    await until(() => w.seen.length === 1);
    await clearPassword(fp);
    await until(() => w.seen.length === 2);
    expect(w.seen).toEqual([fp, fp]);
    expect(w.seen).not.toContain(other.caller.certFingerprint);
  } finally {
    w.stop();
  }
});

test('AddCertificate takes a password hash; bad hashes and requests are refused, and a repeated add does not change a password', async () => {
  const t = await s.addTenant();
  const c = issueCertificate(s.ca, { commonName: 'vcenter-with-password', usage: 'client' });
  const fp = certFingerprint(c.cert);
  // A hash too cheap to compute, or not a hash at all, is refused without being echoed.
  const cheap = await hashPassword(A, { ln: 10, r: 8, p: 1 });
  const bad = await failure(s.adm('addCertificate', { tenantId: t.id, pem: c.cert, passwordHash: cheap }));
  expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(bad.message).toMatch(/too cheap/);
  expect(bad.message).not.toContain(cheap);
  expect((await failure(s.adm('addCertificate', { tenantId: t.id, pem: c.cert, passwordHash: A }))).code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(await redis.exists(`kw:cert:${fp}`)).toBe(0);

  const added = await s.adm<adminV1.Certificate>('addCertificate', { tenantId: t.id, pem: c.cert, passwordHash: hashA });
  expect(added.passwordSet).toBe(true);
  expect(await s.call('identify', { caller: { certFingerprint: fp }, password: A })).toMatchObject({ passwordRequired: true });
  // Again without a password: the same certificate, its password kept. Again with one: refused, say how to change it.
  expect(await s.adm<adminV1.Certificate>('addCertificate', { tenantId: t.id, pem: c.cert })).toMatchObject({ passwordSet: true });
  const again = await failure(s.adm('addCertificate', { tenantId: t.id, pem: c.cert, passwordHash: hashB }));
  expect(again.code).toBe(grpc.status.ALREADY_EXISTS);
  expect(again.message).toMatch(/SetCertificatePassword/);
  expect(await redis.hget(`kw:cert:${fp}`, 'passwordHash')).toBe(hashA);

  // SetCertificatePassword: exactly one of a hash and clear; a known certificate.
  expect((await failure(s.adm('setCertificatePassword', { fingerprint: fp, passwordHash: hashB, clear: true }))).code).toBe(grpc.status.INVALID_ARGUMENT);
  expect((await failure(s.adm('setCertificatePassword', { fingerprint: fp, passwordHash: '', clear: false }))).code).toBe(grpc.status.INVALID_ARGUMENT);
  expect((await failure(s.adm('setCertificatePassword', { fingerprint: 'ab'.repeat(32), passwordHash: hashB, clear: false }))).code).toBe(grpc.status.NOT_FOUND);
  expect((await failure(s.adm('setCertificatePassword', { fingerprint: 'not a fingerprint', clear: true }))).code).toBe(grpc.status.INVALID_ARGUMENT);
  // Removed: setting a password does not bring the record back.
  await s.adm('removeCertificate', { fingerprint: fp });
  expect((await failure(setPassword(fp, hashB))).code).toBe(grpc.status.NOT_FOUND);
  expect(await redis.exists(`kw:cert:${fp}`)).toBe(0);
});

test('a password longer than any that can be set is refused without hashing it', async () => {
  const t = await s.addTenant();
  await setPassword(t.caller.certFingerprint, hashA);
  const before = passwordChecks.runs;
  const r = await failure(identify(t, 'x'.repeat(1024 * 1024)));
  expect(r).toMatchObject({ code: grpc.status.UNAUTHENTICATED, reason: ResultReason.AuthenticationNotSuccessful });
  // No scrypt run started (a timing bound said the same less reliably on a loaded machine).
  expect(passwordChecks.runs).toBe(before);
});

test('scrypt runs a few at a time; a bounded number wait, and beyond that checks are refused at once', async () => {
  // A small gate, so that the bound is reached with few ~0.3 s checks: one at a time, two waiting.
  const gate = new WatchedGate(1, 2, tooManyPasswordChecks);
  const first = [checkClientPassword(hashA, A, gate), checkClientPassword(hashA, 'wrong one', gate), checkClientPassword(hashA, A, gate)];
  const t0 = Date.now();
  const refused = await checkClientPassword(hashA, A, gate).then(() => undefined, (e: { code?: number }) => e);
  expect(refused).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
  expect(Date.now() - t0).toBeLessThan(100);
  expect(await Promise.all(first)).toEqual([true, false, true]);
  expect(gate.most).toBe(1);
  expect(gate.runs).toBe(3);
});

test('a password set while its certificate is removed, or moved to another tenant, leaves no orphan record (one script)', async () => {
  // The race is between the store's read of the certificate and its write: a Store on the same Redis, whose
  // read is followed (once) by a real removal through the Admin API, as another operator's would be.
  const { Store } = await import('../src/store/store');
  const { createLogger } = await import('@keywarden/common');
  const store = new Store(redis, createLogger('test'));
  const t = await s.addTenant();
  const u = await s.addTenant();
  const fp = t.caller.certFingerprint;
  const read = store.getCertificate.bind(store);
  const removedAfterRead = (then?: () => Promise<unknown>) => jest.spyOn(store, 'getCertificate').mockImplementationOnce(async (f) => {
    const c = await read(f);
    await s.adm('removeCertificate', { fingerprint: f });
    await then?.();
    return c;
  });

  removedAfterRead();
  expect(await store.setCertificatePassword(fp, hashA, 'certificate password set')).toBe(false);
  expect(await redis.exists(`kw:cert:${fp}`)).toBe(0);
  expect((await failure(identify(t))).code).toBe(grpc.status.PERMISSION_DENIED);

  // Registered again, to the other tenant, between the read and the write: the password lands on the record
  // as it is now (read again), never on a record that no longer exists.
  await s.adm('addCertificate', { tenantId: t.id, pem: t.client.cert });
  removedAfterRead(() => s.adm('addCertificate', { tenantId: u.id, pem: t.client.cert }));
  expect(await store.setCertificatePassword(fp, hashA, 'certificate password set')).toBe(true);
  expect(await redis.hgetall(`kw:cert:${fp}`)).toMatchObject({ tenant: u.id, passwordHash: hashA });
  expect(await identify(t, A)).toMatchObject({ tenantId: u.id });
  jest.restoreAllMocks();
});
