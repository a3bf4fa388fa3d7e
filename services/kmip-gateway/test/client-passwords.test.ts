// Client certificate passwords at the gateway (docs/kmip-gateway.md, "Client
// passwords"): a certificate with a password must send it as a KMIP
// Credential (Username and Password) in every request; without one a
// Credential is ignored. Checked once per connection and password, a storm of
// reconnections costs one scrypt run, a password change ends the open
// connections (also one missed while the revocation stream was down), and
// bad credentials are answered fast. Real key-lifecycle (its scrypt runs
// counted), Redis, emulator, crk-wrapping, TLS and mTLS.
import { Writable } from 'stream';
import pino from 'pino';
import { certFingerprint, hashPassword } from '@keywarden/common';
import {
  CredentialType, ItemType, Operation, RequestMessage, ResultReason, ResultStatus, Tag, TtlvNode, decodeResponse, encodeRequest, ttlv, vcenter,
} from '@keywarden/kmip';
import { KeyLifecycle, startKeyLifecycle } from '@keywarden/key-lifecycle';
import { Gateway, IdentityCacheOptions, LifecycleBackend, grpcLifecycleBackend, startGateway, withIdentityCache } from '@keywarden/kmip-gateway';
import { adminV1 } from '@keywarden/proto';
import { KmipClient, TestStack, TestTenant, startStack } from '../../../test/lib';
import { credentialPassword } from '../src/credentials';
// The process's scrypt gate in key-lifecycle (in this process: the stack runs in-process): its run count.
import { passwordChecks } from '../../key-lifecycle/src/client-passwords';

jest.setTimeout(120_000);

const A = 'correct horse battery staple';
const B = 'a different long password';
let stack: TestStack;
let hashA: string;
let hashB: string;

beforeAll(async () => {
  stack = await startStack();
  [hashA, hashB] = await Promise.all([hashPassword(A), hashPassword(B)]);
}, 60_000);
afterAll(async () => { await stack?.close(); }, 30_000);

interface Front {
  gw: Gateway;
  backend: LifecycleBackend;
  /** The revocation stream's states so far (the cache keeps answers only while it is live). */
  live: boolean[];
}

/** A gateway as main.ts builds it (identity cache over the gRPC backend), the revocation stream in sight of the test. */
async function front(o: IdentityCacheOptions = {}, port = stack.lifecyclePort, logger?: pino.Logger): Promise<Front> {
  const base = grpcLifecycleBackend({ address: `127.0.0.1:${port}`, tls: stack.pki.gateway });
  const live: boolean[] = [];
  const observed: LifecycleBackend = {
    ...base,
    watchAccessRevocations: (onRevoked, onResumed, onLive) => base.watchAccessRevocations(onRevoked, onResumed, (l) => { live.push(l); onLive?.(l); }),
  };
  const backend = withIdentityCache(observed, o);
  const gw = await startGateway({ port: 0, host: '127.0.0.1', cert: stack.pki.server.cert, key: stack.pki.server.key, backend, logger });
  await until(() => live.at(-1) === true);
  return { gw, backend, live };
}

/** A pino logger at debug level (every request logged as a tree) into memory. */
function capturingLogger(): { log: pino.Logger; text: () => string } {
  let text = '';
  const sink = new Writable({ write(chunk, _enc, cb) { text += chunk.toString(); cb(); } });
  return { log: pino({ level: 'debug', base: { service: 'kmip-gateway' } }, sink), text: () => text };
}

async function until(ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `p`, or a failure naming `what` after `ms`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms); });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

async function stop(f: Front): Promise<void> {
  await f.gw.close(500);
  f.backend.close();
}

const fingerprint = (t: TestTenant) => certFingerprint(t.client.cert);
const setPassword = (t: TestTenant, passwordHash: string) => stack.adminCall<unknown, adminV1.Certificate>('setCertificatePassword', { fingerprint: fingerprint(t), passwordHash, clear: false });
const clearPassword = (t: TestTenant) => stack.adminCall<unknown, adminV1.Certificate>('setCertificatePassword', { fingerprint: fingerprint(t), passwordHash: '', clear: true });
const connect = (f: Front, t: TestTenant) => KmipClient.connect({ port: f.gw.port, ca: stack.pki.ca.cert, cert: t.client.cert, key: t.client.key });

/** An Authentication with one Credential of `type` and `value`. */
const authentication = (type: number, value: TtlvNode[]): TtlvNode => ttlv.structure(Tag.Authentication, [
  ttlv.structure(Tag.Credential, [ttlv.enumeration(Tag.CredentialType, type), ttlv.structure(Tag.CredentialValue, value)]),
]);
/** Username and Password, as vCenter and PyKMIP send it. */
const userPassword = (password: string, username = 'vcenter') =>
  authentication(CredentialType.UsernameAndPassword, [ttlv.textString(Tag.Username, username), ttlv.textString(Tag.Password, password)]);
const device = (password: string) => authentication(CredentialType.Device, [ttlv.textString(Tag.DeviceSerialNumber, 'sn-1'), ttlv.textString(Tag.Password, password)]);

function withAuth(m: RequestMessage, auth: TtlvNode | undefined): RequestMessage {
  return { ...m, header: { ...m.header, ...(auth ? { authentication: auth } : {}) } };
}

/** Discover Versions with this Authentication: the first item's result. */
async function ask(c: KmipClient, auth?: TtlvNode) {
  return (await c.send(withAuth(vcenter.discoverVersions(), auth))).batchItems[0];
}

/** One new connection, one request, closed. */
async function visit(f: Front, t: TestTenant, auth?: TtlvNode) {
  const c = await connect(f, t);
  try {
    return await ask(c, auth);
  } finally {
    await c.close();
  }
}

const runs = () => passwordChecks.runs;

/** Visits with `auth` until one is answered without a scrypt run: the revocation stream is live and the password cached. */
async function warm(f: Front, t: TestTenant, auth: TtlvNode): Promise<void> {
  const end = Date.now() + 10_000;
  for (;;) {
    const before = runs();
    const ok = (await visit(f, t, auth)).resultStatus === ResultStatus.Success;
    if (ok && runs() === before) return;
    if (Date.now() > end) throw new Error('every connection still checks its password');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const closedPromise = (c: KmipClient) => new Promise<number>((r) => (c.socket.destroyed ? r(Date.now()) : c.socket.once('close', () => r(Date.now()))));

test('a certificate without a password: a Credential of any type is accepted and ignored, and nothing is hashed', async () => {
  const f = await front();
  const t = await stack.createTenant();
  const c = await connect(f, t);
  try {
    const before = runs();
    for (const auth of [undefined, userPassword('whatever'), device('x'), ttlv.textString(Tag.Authentication, 'not even a structure')]) {
      expect(await ask(c, auth)).toMatchObject({ resultStatus: ResultStatus.Success });
    }
    expect(runs()).toBe(before);
  } finally {
    await c.close();
    await stop(f);
  }
});

test('with a password: requests must carry it; it is checked once per connection, the username is not checked', async () => {
  // Without the verified-password cache: what spares the following requests a check is the connection's own comparison.
  const logs = capturingLogger();
  const f = await front({ passwordEntries: 0 }, stack.lifecyclePort, logs.log);
  const t = await stack.createTenant();
  await setPassword(t, hashA);
  const c = await connect(f, t);
  try {
    const missing = await ask(c);
    expect(missing).toMatchObject({ resultStatus: ResultStatus.OperationFailed, resultReason: ResultReason.AuthenticationNotSuccessful });
    expect(missing.resultMessage).toMatch(/requires a password: send a KMIP Credential of type Username and Password.*no Authentication/);

    const before = runs();
    expect(await ask(c, userPassword(A))).toMatchObject({ resultStatus: ResultStatus.Success });
    expect(runs()).toBe(before + 1);
    // The same password again on this connection: compared with what was verified, no scrypt run.
    for (let i = 0; i < 5; i++) expect((await ask(c, userPassword(A, `any user ${i}`))).resultStatus).toBe(ResultStatus.Success);
    expect(runs()).toBe(before + 1);
    // A real operation, not only Discover Versions.
    const created = (await c.send(withAuth(vcenter.create(1), userPassword(A)))).batchItems[0];
    expect(created).toMatchObject({ operation: Operation.Create, resultStatus: ResultStatus.Success });

    // Each request is checked: a verified connection without the password, or with a wrong one, is refused, and stays usable.
    expect((await ask(c)).resultReason).toBe(ResultReason.AuthenticationNotSuccessful);
    const wrong = await ask(c, userPassword('not the password at all'));
    expect(wrong).toMatchObject({ resultStatus: ResultStatus.OperationFailed, resultReason: ResultReason.AuthenticationNotSuccessful });
    expect(wrong.resultMessage).toMatch(/not the one set for this client certificate/);
    const dev = await ask(c, device(A));
    expect(dev.resultReason).toBe(ResultReason.AuthenticationNotSuccessful);
    expect(dev.resultMessage).toMatch(/Credential is of type Device, not Username and Password/);
    const noPassword = await ask(c, authentication(CredentialType.UsernameAndPassword, [ttlv.textString(Tag.Username, 'vcenter')]));
    expect(noPassword.resultMessage).toMatch(/Username and Password credential has no Password/);
    expect((await ask(c, userPassword(A))).resultStatus).toBe(ResultStatus.Success);
    // Every item of a batch gets the refusal; none runs.
    const batch = await c.send(withAuth(vcenter.tagBatch(10, created.payload.uniqueIdentifier), userPassword('wrong')));
    expect(batch.batchItems.map((i) => i.resultReason)).toEqual([ResultReason.AuthenticationNotSuccessful, ResultReason.AuthenticationNotSuccessful, ResultReason.AuthenticationNotSuccessful]);

    // The log (at debug level, every request as a tree) names the refusals and the certificate, never a password.
    const text = logs.text();
    expect(text).toContain('"msg":"refused a wrong client password"');
    expect(text).toContain('"msg":"refused a request without the password its client certificate requires"');
    expect(text).toContain(fingerprint(t));
    expect(text).toContain('"msg":"KMIP request"');
    for (const secret of [A, 'not the password at all']) expect(text).not.toContain(secret);
  } finally {
    await c.close();
    await stop(f);
  }
});

test('bad credentials are answered fast: a 1 MB password without hashing it, a message over the limit with Invalid Message and a close', async () => {
  const f = await front();
  const t = await stack.createTenant();
  await setPassword(t, hashA);
  const c = await connect(f, t);
  try {
    expect((await ask(c, userPassword(A))).resultStatus).toBe(ResultStatus.Success);
    const before = runs();
    const t0 = Date.now();
    // Within the 1 MiB message limit: refused from its length, not hashed or even compared.
    const huge = await ask(c, userPassword('p'.repeat(1_000_000)));
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(huge).toMatchObject({ resultReason: ResultReason.AuthenticationNotSuccessful });
    expect(huge.resultMessage).toMatch(/longer than 1024 characters/);
    expect(runs()).toBe(before);
    // Not a structure, no Credential, a Credential Type of the wrong item type: refused, connection usable.
    expect((await ask(c, ttlv.textString(Tag.Authentication, A))).resultMessage).toMatch(/Authentication is not a structure/);
    expect((await ask(c, ttlv.structure(Tag.Authentication, []))).resultMessage).toMatch(/holds no Credential/);
    const badType = ttlv.structure(Tag.Authentication, [ttlv.structure(Tag.Credential, [ttlv.textString(Tag.CredentialType, 'Username and Password')])]);
    expect((await ask(c, badType)).resultMessage).toMatch(/no valid Credential Type/);
    expect((await ask(c, userPassword(A))).resultStatus).toBe(ResultStatus.Success);
    expect(runs()).toBe(before);

    // Over the message limit (a 2 MiB password): Invalid Message from the header alone, then the gateway ends the connection.
    const closed = closedPromise(c);
    const bytes = encodeRequest(withAuth(vcenter.discoverVersions(), userPassword('q'.repeat(2 * 1024 * 1024))));
    const answer = decodeResponse(await c.sendRaw(bytes)).batchItems[0];
    expect(answer).toMatchObject({ resultStatus: ResultStatus.OperationFailed, resultReason: ResultReason.InvalidMessage });
    expect(answer.resultMessage).toMatch(/exceeds the 1048576-byte limit/);
    await within(closed, 5000, 'the connection is closed');
    expect(runs()).toBe(before);
  } finally {
    await c.close();
    await stop(f);
  }
});

test('a storm of 1,000 connections with one certificate and password costs one scrypt run', async () => {
  const f = await front();
  const t = await stack.createTenant();
  await setPassword(t, hashA);
  try {
    const before = runs();
    let ok = 0;
    // 100 at a time: the first ones arrive together, before anything is verified (coalesced), the rest find it cached.
    for (let wave = 0; wave < 10; wave++) {
      const results = await Promise.all(Array.from({ length: 100 }, () => visit(f, t, userPassword(A))));
      ok += results.filter((r) => r.resultStatus === ResultStatus.Success).length;
    }
    expect(ok).toBe(1000);
    expect(runs() - before).toBe(1);
  } finally {
    await stop(f);
  }
});

test('without the verified-password cache, each new connection costs a run; overlapping ones still share one', async () => {
  const f = await front({ passwordEntries: 0 });
  const t = await stack.createTenant();
  await setPassword(t, hashA);
  try {
    let before = runs();
    for (let i = 0; i < 3; i++) expect((await visit(f, t, userPassword(A))).resultStatus).toBe(ResultStatus.Success);
    expect(runs() - before).toBe(3);

    // 20 connections ready, then 20 requests at once: one check answers them all.
    const conns = await Promise.all(Array.from({ length: 20 }, () => connect(f, t)));
    try {
      before = runs();
      const results = await Promise.all(conns.map((c) => ask(c, userPassword(A))));
      expect(results.every((r) => r.resultStatus === ResultStatus.Success)).toBe(true);
      expect(runs() - before).toBe(1);
    } finally {
      await Promise.all(conns.map((c) => c.close()));
    }
  } finally {
    await stop(f);
  }
});

test('a wrong password repeated by new connections is checked once; different ones of one certificate, at most 4 at once', async () => {
  const f = await front();
  const t = await stack.createTenant();
  await setPassword(t, hashA);
  try {
    await warm(f, t, userPassword(A));
    let before = runs();
    for (let i = 0; i < 3; i++) expect((await visit(f, t, userPassword('a wrong password'))).resultReason).toBe(ResultReason.AuthenticationNotSuccessful);
    expect(runs() - before).toBe(1);

    // Ten different passwords at once: four are checked, six refused at once as temporarily unavailable.
    const conns = await Promise.all(Array.from({ length: 10 }, () => connect(f, t)));
    try {
      before = runs();
      const t0 = Date.now();
      const results = await Promise.all(conns.map((c, i) => ask(c, userPassword(`wrong password number ${i}`)).then((r) => ({ r, ms: Date.now() - t0 }))));
      const refused = results.filter(({ r }) => r.resultReason === ResultReason.GeneralFailure);
      const checked = results.filter(({ r }) => r.resultReason === ResultReason.AuthenticationNotSuccessful);
      expect(refused.map(({ r }) => r.resultMessage)).toEqual(Array(refused.length).fill(expect.stringMatching(/^key service temporarily unavailable; retry \(ref [0-9a-f]{8}\)$/)));
      expect(checked.length + refused.length).toBe(10);
      expect(checked.length).toBe(4);
      expect(runs() - before).toBe(4);
      // Refused before any check ended (one takes ~0.3 s).
      expect(Math.max(...refused.map(({ ms }) => ms))).toBeLessThan(Math.min(...checked.map(({ ms }) => ms)));
    } finally {
      await Promise.all(conns.map((c) => c.close()));
    }
    // The right password still works for a new connection (from the cache).
    before = runs();
    expect((await visit(f, t, userPassword(A))).resultStatus).toBe(ResultStatus.Success);
    expect(runs()).toBe(before);
  } finally {
    await stop(f);
  }
});

test('setting or clearing a password closes the certificate\'s open connections, and what was verified is forgotten', async () => {
  const f = await front();
  const t = await stack.createTenant();
  const other = await stack.createTenant();
  await setPassword(t, hashA);
  try {
    await warm(f, t, userPassword(A));
    const open = await connect(f, t);
    const bystander = await connect(f, other);
    expect((await ask(open, userPassword(A))).resultStatus).toBe(ResultStatus.Success);
    expect((await ask(bystander)).resultStatus).toBe(ResultStatus.Success);

    const closed = closedPromise(open);
    const changedAt = Date.now();
    await setPassword(t, hashB);
    expect((await within(closed, 5000, 'the connection is closed')) - changedAt).toBeLessThan(2000);
    // A was verified and cached: a new connection with it is checked again, and refused.
    const before = runs();
    expect((await visit(f, t, userPassword(A))).resultReason).toBe(ResultReason.AuthenticationNotSuccessful);
    expect(runs()).toBe(before + 1);
    expect((await visit(f, t, userPassword(B))).resultStatus).toBe(ResultStatus.Success);
    // Another certificate's connection is not touched.
    expect((await ask(bystander)).resultStatus).toBe(ResultStatus.Success);

    // Cleared: connections closed again; a request without any Credential is served.
    const open2 = await connect(f, t);
    expect((await ask(open2, userPassword(B))).resultStatus).toBe(ResultStatus.Success);
    const closed2 = closedPromise(open2);
    await clearPassword(t);
    await closed2;
    expect((await visit(f, t)).resultStatus).toBe(ResultStatus.Success);
    await bystander.close();
  } finally {
    await stop(f);
  }
});

test('a password set while the revocation stream was down closes the certificate\'s connections when it resumes', async () => {
  // The gateway's own key-lifecycle replica, which the test stops and starts again on the same port.
  const replica = (port: number): Promise<KeyLifecycle> => startKeyLifecycle({
    address: `127.0.0.1:${port}`, tls: stack.pki.lifecycle, redisUrl: stack.redis.url,
    wrappingAddress: `localhost:${stack.wrappingPort}`, wrappingTls: stack.pki.lifecycle,
  });
  let lc = await replica(0);
  const port = lc.port;
  const f = await front({}, port);
  const changed = await stack.createTenant();
  const kept = await stack.createTenant();
  await setPassword(kept, hashA);
  const a = await connect(f, changed);
  const b = await connect(f, kept);
  try {
    expect((await ask(a)).resultStatus).toBe(ResultStatus.Success);
    expect((await ask(b, userPassword(A))).resultStatus).toBe(ResultStatus.Success);
    const closed = closedPromise(a);

    await lc.close(); // the gateway's revocation stream breaks
    await until(() => f.live.at(-1) === false);
    await setPassword(changed, hashB); // through the stack's own replica: the notice is missed
    await new Promise((r) => setTimeout(r, 300));
    expect(a.socket.destroyed).toBe(false);

    lc = await replica(port);
    await within(closed, 10_000, 'the connection whose password was set meanwhile is closed after the stream resumed');
    // The other certificate's setting did not change: its connection stays, and is served.
    await new Promise((r) => setTimeout(r, 500));
    expect(b.socket.destroyed).toBe(false);
    expect((await ask(b, userPassword(A))).resultStatus).toBe(ResultStatus.Success);
    expect((await visit(f, changed)).resultReason).toBe(ResultReason.AuthenticationNotSuccessful);
  } finally {
    await a.close();
    await b.close();
    await stop(f);
    await lc.close();
  }
});

describe('credentialPassword', () => {
  const cred = (type: TtlvNode, value?: TtlvNode) => ttlv.structure(Tag.Credential, [type, ...(value ? [value] : [])]);
  const up = (password: string) => cred(
    ttlv.enumeration(Tag.CredentialType, CredentialType.UsernameAndPassword),
    ttlv.structure(Tag.CredentialValue, [ttlv.textString(Tag.Username, 'u'), ttlv.textString(Tag.Password, password)]),
  );

  it('takes the first Username and Password credential among several', () => {
    const auth = ttlv.structure(Tag.Authentication, [
      cred(ttlv.enumeration(Tag.CredentialType, CredentialType.Attestation), ttlv.structure(Tag.CredentialValue, [])),
      up('first'),
      up('second'),
    ]);
    expect(credentialPassword(auth)).toEqual({ password: 'first' });
  });

  it('says what is missing', () => {
    expect(credentialPassword(undefined)).toEqual({ missing: 'the request has no Authentication' });
    const attestation = ttlv.structure(Tag.Authentication, [cred(ttlv.enumeration(Tag.CredentialType, CredentialType.Attestation))]);
    expect(credentialPassword(attestation)).toEqual({ missing: 'the request\'s Credential is of type Attestation, not Username and Password' });
    const unknown = ttlv.structure(Tag.Authentication, [cred(ttlv.enumeration(Tag.CredentialType, 0x8000_0001))]);
    expect(credentialPassword(unknown)).toEqual({ missing: 'the request\'s Credential is of type Credential Type 0x80000001, not Username and Password' });
    expect(credentialPassword(ttlv.structure(Tag.Authentication, [up('')]))).toEqual({ missing: 'the request\'s Username and Password credential has no Password' });
    const valueNotStructure = ttlv.structure(Tag.Authentication, [cred(ttlv.enumeration(Tag.CredentialType, CredentialType.UsernameAndPassword), ttlv.textString(Tag.CredentialValue, 'pw'))]);
    expect(credentialPassword(valueNotStructure)).toEqual({ missing: 'the request\'s Username and Password credential has no Password' });
    const passwordBytes = ttlv.structure(Tag.Authentication, [cred(
      ttlv.enumeration(Tag.CredentialType, CredentialType.UsernameAndPassword),
      ttlv.structure(Tag.CredentialValue, [{ tag: Tag.Password, type: ItemType.ByteString, value: Buffer.from('pw') }]),
    )]);
    expect(credentialPassword(passwordBytes)).toEqual({ missing: 'the request\'s Username and Password credential has no Password' });
    expect(credentialPassword(ttlv.structure(Tag.Authentication, [up('x'.repeat(1025))]))).toEqual({ missing: 'the Credential\'s Password is longer than 1024 characters' });
    expect(credentialPassword(ttlv.structure(Tag.Authentication, [up('x'.repeat(1024))]))).toEqual({ password: 'x'.repeat(1024) });
  });
});
