// KeyLifecycle.Relay, the gateway's stream (docs/key-lifecycle.md, "Relay"):
// only a gateway may open it; each request acts for the caller it names as
// the unary call would; answers carry the unary call's status, message, KMIP
// reason and detail; each request is audited and counted once as its unary
// call; a request whose time ran out is abandoned; shutdown drains the
// stream. Real key-lifecycle, crk-wrapping, emulator and Redis over mTLS.
import Redis from 'ioredis';
import { channelCredentials, detailOf, grpc, issueCertificate, kmipReasonOf, TlsFiles } from '@keywarden/common';
import { ObjectType, ResultReason } from '@keywarden/kmip';
import { lifecycleV1 } from '@keywarden/proto';
import { KeyLifecycle, KeyLifecycleOptions } from '../src';
import { aesTemplate, failure, Stack, startStack, TenantHandle } from './stack';

jest.setTimeout(60_000);

let s: Stack;
let redis: Redis;
let t: TenantHandle;
const closers: Array<() => void> = [];

beforeAll(async () => {
  s = await startStack();
  redis = new Redis(s.redis.url);
  t = await s.addTenant('relay-a');
});

afterAll(async () => {
  redis?.disconnect();
  await s?.close();
});

afterEach(() => {
  for (const c of closers.splice(0)) c();
});

type Answer = lifecycleV1.RelayResponse;

/** A Relay stream opened with `tls`, with each answer matched to its request by id. */
interface Relay {
  /** Sends one request; resolves with its answer (or never, when none comes). */
  ask(call: Partial<Omit<lifecycleV1.RelayRequest, 'id'>>, timeoutMs?: number): { id: number; answer: Promise<Answer> };
  /** Every answer received, in order (the draining notice included). */
  answers: Answer[];
  /** Resolves when headers arrive (the stream is accepted). */
  accepted: Promise<void>;
  /** Resolves with the stream's status. */
  status: Promise<grpc.StatusObject>;
  end(): void;
}

function openRelay(address: string, tls: TlsFiles): Relay {
  const client = new lifecycleV1.KeyLifecycleClient(address, channelCredentials(tls));
  const stream = client.relay();
  const waiting = new Map<number, (a: Answer) => void>();
  const answers: Answer[] = [];
  let next = 1;
  stream.on('data', (a: Answer) => {
    answers.push(a);
    waiting.get(a.id)?.(a);
    waiting.delete(a.id);
  });
  stream.on('error', () => undefined);
  const accepted = new Promise<void>((r) => stream.once('metadata', () => r()));
  const status = new Promise<grpc.StatusObject>((r) => stream.once('status', r));
  closers.push(() => { stream.cancel(); client.close(); });
  return {
    answers, accepted, status,
    ask: (call, timeoutMs = 15_000) => {
      const id = next++;
      const answer = new Promise<Answer>((r) => waiting.set(id, r));
      stream.write(lifecycleV1.RelayRequest.fromPartial({ ...call, id, timeoutMs }));
      return { id, answer };
    },
    end: () => stream.end(),
  };
}

async function metric(port: number | undefined, op: string, result = 'ok'): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = new RegExp(`^keywarden_lifecycle_operations_total\\{(?=[^}]*op="${op}")(?=[^}]*result="${result}")[^}]*\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

async function auditCount(op: string, cert: string, uid: string): Promise<number> {
  const entries = await redis.xrevrange('kw:audit', '+', '-', 'COUNT', 500);
  let n = 0;
  for (const [, kv] of entries) {
    const e: Record<string, string> = {};
    for (let i = 0; i < kv.length; i += 2) e[kv[i]] = kv[i + 1];
    if (e.op === op && e.cert === cert && e.uid === uid) n++;
  }
  return n;
}

async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function replica(extra: Partial<KeyLifecycleOptions> = {}): Promise<{ lc: KeyLifecycle; address: string }> {
  const lc = await s.startReplica({ metricsPort: 0, metricsHost: '127.0.0.1', ...extra });
  return { lc, address: `127.0.0.1:${lc.port}` };
}

describe('who may open a Relay stream', () => {
  it('refuses every certificate but a gateway\'s, before reading anything (no headers, PERMISSION_DENIED)', async () => {
    const platform = issueCertificate(s.ca, { commonName: 'platform', usage: 'client' });
    await s.adm('addCertificate', { tenantId: t.id, pem: platform.cert });
    const cases: Array<[string, TlsFiles]> = [
      ['an operator', s.adminTls],
      ['key-lifecycle', s.lifecycleTls],
      ['an internal platform registered to a tenant', { ca: Buffer.from(s.ca.cert), cert: Buffer.from(platform.cert), key: Buffer.from(platform.key) }],
    ];
    for (const [what, tls] of cases) {
      const r = openRelay(s.address, tls);
      let headers = false;
      void r.accepted.then(() => { headers = true; });
      const asked = r.ask({ identify: { caller: t.caller } });
      const st = await r.status;
      expect({ what, code: st.code }).toEqual({ what, code: grpc.status.PERMISSION_DENIED });
      expect(st.details).toMatch(/Relay is for kmip-gateway identities only/);
      expect(headers).toBe(false);
      expect(r.answers).toHaveLength(0);
      void asked;
    }
  });

  it('a gateway\'s stream acts for the caller each request names, as the unary calls do', async () => {
    const r = openRelay(s.address, s.gatewayTls);
    await r.accepted;
    const created = await r.ask({ create: { caller: t.caller, objectType: ObjectType.SymmetricKey, attributes: aesTemplate() } }).answer;
    const uid = created.create!.uniqueIdentifier;
    expect(uid).toMatch(/\S/);
    // The same stream, another tenant's client: that tenant cannot see the key (exactly like a missing one).
    const other = await s.addTenant('relay-b');
    const foreign = (await r.ask({ get: { caller: other.caller, uniqueIdentifier: uid, keyFormatType: 0 } }).answer).error!;
    const unaryForeign = await failure(s.call('get', { caller: other.caller, uniqueIdentifier: uid }));
    expect({ code: foreign.code, message: foreign.message, reason: foreign.kmipResultReason })
      .toEqual({ code: unaryForeign.code, message: unaryForeign.message, reason: unaryForeign.reason });
    expect(foreign.code).toBe(grpc.status.NOT_FOUND);
    // An unregistered fingerprint is refused per request; the stream goes on.
    const stranger = await r.ask({ identify: { caller: { certFingerprint: 'ab'.repeat(32) } } }).answer;
    expect(stranger.error).toMatchObject({ code: grpc.status.PERMISSION_DENIED, kmipResultReason: ResultReason.PermissionDenied });
    const mine = await r.ask({ get: { caller: t.caller, uniqueIdentifier: uid, keyFormatType: 0 } }).answer;
    expect(mine.get?.keyMaterial).toHaveLength(32);
    const id = await r.ask({ identify: { caller: t.caller } }).answer;
    expect(id.identify).toEqual({ tenantId: t.id });
  });
});

describe('answers and accounting', () => {
  it('many requests at once are each answered once, under their own id, with the unary call\'s result', async () => {
    const r = openRelay(s.address, s.gatewayTls);
    await r.accepted;
    const uids = await Promise.all(Array.from({ length: 20 }, async () =>
      (await r.ask({ create: { caller: t.caller, objectType: ObjectType.SymmetricKey, attributes: aesTemplate() } }).answer).create!.uniqueIdentifier));
    expect(new Set(uids).size).toBe(20);
    const asked = uids.map((uid) => ({ uid, ...r.ask({ get: { caller: t.caller, uniqueIdentifier: uid, keyFormatType: 0 } }) }));
    for (const a of asked) {
      const answer = await a.answer;
      expect(answer.id).toBe(a.id);
      expect(answer.get?.uniqueIdentifier).toBe(a.uid);
      const unary = await s.call<lifecycleV1.GetResponse>('get', { caller: t.caller, uniqueIdentifier: a.uid });
      expect(Buffer.from(answer.get!.keyMaterial).equals(Buffer.from(unary.keyMaterial))).toBe(true);
    }
    expect(r.answers.filter((a) => a.get).length).toBe(20);
  });

  it('an error carries the unary call\'s status, message, KMIP reason and detail', async () => {
    const r = openRelay(s.address, s.gatewayTls);
    await r.accepted;
    const uid = (await r.ask({ create: { caller: t.caller, objectType: ObjectType.SymmetricKey, attributes: aesTemplate() } }).answer).create!.uniqueIdentifier;
    // Destroy of a Pre-Active object, then Get of the destroyed object: FAILED_PRECONDITION with a reason.
    expect((await r.ask({ destroy: { caller: t.caller, uniqueIdentifier: uid } }).answer).destroy?.uniqueIdentifier).toBe(uid);
    const viaRelay = (await r.ask({ get: { caller: t.caller, uniqueIdentifier: uid, keyFormatType: 0 } }).answer).error!;
    const viaUnary = await failure(s.call('get', { caller: t.caller, uniqueIdentifier: uid }));
    expect(viaRelay).toEqual({ code: viaUnary.code, message: viaUnary.message, kmipResultReason: viaUnary.reason, detail: '' });
    expect(viaRelay.code).toBe(grpc.status.FAILED_PRECONDITION);

    // A provider failure: the dependency's text travels as the detail (keywarden-detail-bin for unary).
    s.emulator.faults.set({ down: true });
    try {
      const bad = (await r.ask({ create: { caller: t.caller, objectType: ObjectType.SymmetricKey, attributes: aesTemplate() } }).answer).error!;
      let unaryErr: unknown;
      await s.call('create', { caller: t.caller, objectType: ObjectType.SymmetricKey, attributes: aesTemplate() }).catch((e: unknown) => { unaryErr = e; });
      const u = unaryErr as grpc.ServiceError;
      expect(bad.code).toBe(u.code);
      expect(bad.message).toBe(u.details);
      expect(bad.kmipResultReason).toBe(kmipReasonOf(u) ?? 0);
      expect(bad.detail).toMatch(/\S/);
      expect(bad.detail).toBe(detailOf(u));
    } finally {
      s.emulator.faults.clear();
    }
  });

  it('each request is audited and counted once, under its unary method\'s name', async () => {
    const { address, lc } = await replica();
    try {
      const r = openRelay(address, s.gatewayTls);
      await r.accepted;
      const uid = (await r.ask({ create: { caller: t.caller, objectType: ObjectType.SymmetricKey, attributes: aesTemplate() } }).answer).create!.uniqueIdentifier;
      const gets0 = await metric(lc.metricsPort, 'Get');
      const attrs0 = await metric(lc.metricsPort, 'GetAttributes');
      for (let i = 0; i < 3; i++) await r.ask({ get: { caller: t.caller, uniqueIdentifier: uid, keyFormatType: 0 } }).answer;
      await r.ask({ getAttributes: { caller: t.caller, uniqueIdentifier: uid, attributeNames: [] } }).answer;
      expect(await metric(lc.metricsPort, 'Get')).toBe(gets0 + 3);
      expect(await metric(lc.metricsPort, 'GetAttributes')).toBe(attrs0 + 1);
      await until('the audit entries', async () => (await auditCount('Get', t.caller.certFingerprint, uid)) === 3);
      expect(await auditCount('Create', t.caller.certFingerprint, uid)).toBe(1);
      expect(await auditCount('GetAttributes', t.caller.certFingerprint, uid)).toBe(1);
    } finally {
      await lc.close();
    }
  });
});

describe('deadlines and shutdown', () => {
  it('a request whose time runs out is abandoned: no answer, while the stream serves the next ones', async () => {
    // Strict mode: every Get asks the (slowed) provider.
    const { address, lc } = await replica({ cacheTtlMs: 0 });
    try {
      const uid = (await s.call<lifecycleV1.CreateResponse>('create', { caller: t.caller, objectType: ObjectType.SymmetricKey, attributes: aesTemplate() })).uniqueIdentifier;
      const r = openRelay(address, s.gatewayTls);
      await r.accepted;
      s.emulator.faults.set({ latencyMs: 1200 });
      let slow: { id: number; answer: Promise<Answer> };
      try {
        slow = r.ask({ get: { caller: t.caller, uniqueIdentifier: uid, keyFormatType: 0 } }, 300);
        const patient = r.ask({ get: { caller: t.caller, uniqueIdentifier: uid, keyFormatType: 0 } }, 20_000);
        expect((await patient.answer).get?.uniqueIdentifier).toBe(uid);
      } finally {
        s.emulator.faults.clear();
      }
      // Both ran to the end on the server (same provider latency); only the patient one was answered.
      await new Promise((res) => setTimeout(res, 300));
      expect(r.answers.map((a) => a.id)).not.toContain(slow.id);
      const quick = await r.ask({ identify: { caller: t.caller } }).answer;
      expect(quick.identify?.tenantId).toBe(t.id);
    } finally {
      await lc.close();
    }
  });

  it('shutdown drains: the request in flight is answered, then the draining notice, then OK; nothing sent after it runs', async () => {
    const { address, lc } = await replica({ cacheTtlMs: 0 });
    const uid = (await s.call<lifecycleV1.CreateResponse>('create', { caller: t.caller, objectType: ObjectType.SymmetricKey, attributes: aesTemplate() })).uniqueIdentifier;
    const r = openRelay(address, s.gatewayTls);
    await r.accepted;
    s.emulator.faults.set({ latencyMs: 800 });
    let closing: Promise<void> | undefined;
    try {
      const inFlight = r.ask({ get: { caller: t.caller, uniqueIdentifier: uid, keyFormatType: 0 } });
      await new Promise((res) => setTimeout(res, 200));
      closing = lc.close();
      await until('the draining notice', async () => r.answers.some((a) => a.draining));
      // Sent after the notice: never run (its Destroy would otherwise show in the audit).
      const late = r.ask({ destroy: { caller: t.caller, uniqueIdentifier: uid } });
      expect((await inFlight.answer).get?.uniqueIdentifier).toBe(uid);
      const st = await r.status;
      expect(st.code).toBe(grpc.status.OK);
      // The notice went out when draining began, the slow Get's answer when it was done; the late request got nothing.
      expect(r.answers.map((a) => (a.draining ? 'draining' : a.id))).toEqual(['draining', inFlight.id]);
      expect(late.id).not.toBe(inFlight.id);
    } finally {
      s.emulator.faults.clear();
      await closing;
    }
    expect(await auditCount('Destroy', t.caller.certFingerprint, uid)).toBe(0);
    const still = await s.call<lifecycleV1.GetResponse>('get', { caller: t.caller, uniqueIdentifier: uid });
    expect(still.keyMaterial).toHaveLength(32);
  });
});
