import { spawn } from 'child_process';
import { randomBytes, randomUUID } from 'crypto';
import fs from 'fs';
import net from 'net';
import os from 'os';
import path from 'path';
import { Emulator, startEmulator } from '@keywarden/keyprotect-emulator';

// Tests over real HTTP: statuses, bodies and reason codes of
// docs/keyprotect-api.md. The contract table citing IBM's pages row by row is
// contract.test.ts.

const KEY_JSON = 'application/vnd.ibm.kms.key+json';
const ERROR_JSON = 'application/vnd.ibm.kms.error+json';

interface Reply {
  status: number;
  headers: Headers;
  body: Record<string, unknown> & { resources?: Array<Record<string, unknown>> };
}

class Client {
  token = '';
  /** A client of a provisioned instance (a fresh one unless named; `{ url }` stand-ins provision their own). */
  constructor(readonly emu: Emulator, readonly instance: string = randomUUID(), readonly apikey = 'test-api-key') {
    if (typeof emu.createInstance === 'function') emu.createInstance(instance);
  }

  async login(): Promise<void> {
    const r = await fetch(`${this.emu.url}/identity/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ibm:params:oauth:grant-type:apikey', apikey: this.apikey }),
    });
    expect(r.status).toBe(200);
    this.token = ((await r.json()) as { access_token: string }).access_token;
  }

  async call(method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    const r = await fetch(`${this.emu.url}/api/v2/${p}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, 'bluemix-instance': this.instance, 'content-type': KEY_JSON, ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, headers: r.headers, body: text ? (JSON.parse(text) as Reply['body']) : {} };
  }

  async create(name: string, extractable: boolean, payload?: Buffer, prefer = 'return=representation'): Promise<Record<string, unknown>> {
    const r = await this.call('POST', 'keys', keyBody({ name, extractable, ...(payload ? { payload: payload.toString('base64') } : {}) }), { prefer });
    expect(r.status).toBe(201);
    return r.body.resources![0];
  }

  action(id: string, action: string, body?: unknown): Promise<Reply> {
    return this.call('POST', `keys/${id}/actions/${action}`, body, { 'content-type': 'application/vnd.ibm.kms.key_action+json' });
  }
}

function keyBody(resource: Record<string, unknown>, total = 1, count = 1): unknown {
  return {
    metadata: { collectionType: KEY_JSON, collectionTotal: total },
    resources: Array.from({ length: count }, () => ({ type: KEY_JSON, ...resource })),
  };
}

/** The 401 of error-messages.md: the error collection without reasons. */
function unauthorized(r: Reply): void {
  expect(r.status).toBe(401);
  expect(r.body.metadata).toEqual({ collectionType: ERROR_JSON, collectionTotal: 1 });
  expect(r.body.resources).toEqual([{ errorMsg: 'Unauthorized: The user does not have access to the specified resource' }]);
}

/** Asserts the error collection of docs/keyprotect-api.md and returns the reason. */
function reason(r: Reply, status: number, code: string): Record<string, unknown> {
  expect(r.status).toBe(status);
  expect(r.body.metadata).toEqual({ collectionType: ERROR_JSON, collectionTotal: 1 });
  const res = r.body.resources![0] as { errorMsg: string; reasons: Array<Record<string, unknown>> };
  expect(typeof res.errorMsg).toBe('string');
  expect(res.reasons[0]).toMatchObject({ code, status, moreInfo: 'https://cloud.ibm.com/apidocs/key-protect' });
  expect(typeof res.reasons[0].message).toBe('string');
  return res.reasons[0];
}

const b64 = (b: Buffer) => b.toString('base64');

describe('keyprotect-emulator', () => {
  let emu: Emulator;
  let kp: Client;

  beforeAll(async () => {
    // Limits off here: these tests disable and enable, delete and restore, right away
    // (IBM's limits, on by default, have their own tests in contract.test.ts).
    emu = await startEmulator({ apiKeys: ['test-api-key'], limits: { rotationIntervalSeconds: 0, actionCooldownSeconds: 0 } });
    kp = new Client(emu);
    await kp.login();
  });
  afterAll(() => emu.close());
  afterEach(() => emu.faults.clear());

  describe('IAM token endpoint', () => {
    it('issues a bearer token with expires_in', async () => {
      const r = await fetch(`${emu.url}/identity/token`, {
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'urn:ibm:params:oauth:grant-type:apikey', apikey: 'test-api-key' }),
      });
      const body = (await r.json()) as Record<string, unknown>;
      expect(r.status).toBe(200);
      expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
      expect(typeof body.access_token).toBe('string');
      expect(typeof body.refresh_token).toBe('string');
    });

    it('rejects an unknown API key and a wrong grant type with the IAM error body', async () => {
      for (const form of [{ grant_type: 'urn:ibm:params:oauth:grant-type:apikey', apikey: 'nope' }, { grant_type: 'password', apikey: 'test-api-key' }]) {
        const r = await fetch(`${emu.url}/identity/token`, { method: 'POST', body: new URLSearchParams(form) });
        expect(r.status).toBe(400);
        const body = (await r.json()) as { errorCode: string; errorMessage: string; context: { requestId: string } };
        expect(body.errorCode).toMatch(/^BXNIM\d{4}E$/);
        expect(typeof body.errorMessage).toBe('string');
        expect(typeof body.context.requestId).toBe('string');
      }
    });

    it('answers 401 without a valid token, and after tokens expire', async () => {
      const anon = new Client(emu);
      unauthorized(await anon.call('GET', 'keys'));
      const c = new Client(emu);
      await c.login();
      expect((await c.call('GET', 'keys')).status).toBe(200);
      emu.expireTokens();
      unauthorized(await c.call('GET', 'keys'));
      await kp.login();
    });

    it('expires tokens after tokenTtlSeconds', async () => {
      const short = await startEmulator({ tokenTtlSeconds: 1 });
      try {
        const c = new Client(short, randomUUID(), 'any-key');
        await c.login();
        expect((await c.call('GET', 'keys')).status).toBe(200);
        await new Promise((r) => setTimeout(r, 1100));
        unauthorized(await c.call('GET', 'keys'));
      } finally {
        await short.close();
      }
    });

    it('requires the bluemix-instance header', async () => {
      const r = await kp.call('GET', 'keys', undefined, { 'bluemix-instance': '' });
      reason(r, 400, 'INVALID_FIELD_ERR');
    });
  });

  describe('keys', () => {
    it('creates a root key (201) with minimal and full representations', async () => {
      const minimal = await kp.create('root-min', false, undefined, 'return=minimal');
      expect(minimal).toMatchObject({ type: KEY_JSON, name: 'root-min', state: 1, extractable: false, imported: false, deleted: false });
      expect(minimal.keyVersion).toBeUndefined();
      const full = await kp.create('root-full', false);
      expect(full).toMatchObject({ algorithmType: 'AES', algorithmBitSize: 256, state: 1, extractable: false, keyRingID: 'default' });
      expect(full.keyVersion).toEqual({ id: expect.any(String), creationDate: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) });
      expect(full.crn).toContain(`:${kp.instance}:key:${String(full.id)}`);
      expect(full.payload).toBeUndefined();
    });

    it('returns a standard key payload on GET keys/<id> but never on /metadata', async () => {
      const payload = randomBytes(48);
      const k = await kp.create('std-key', true, payload);
      const got = await kp.call('GET', `keys/${String(k.id)}`);
      expect(got.status).toBe(200);
      expect(got.body.metadata).toEqual({ collectionType: KEY_JSON, collectionTotal: 1 });
      expect(got.body.resources![0].payload).toBe(b64(payload));
      const meta = await kp.call('GET', `keys/${String(k.id)}/metadata`);
      expect(meta.status).toBe(200);
      expect(meta.body.resources![0].payload).toBeUndefined();
      expect(meta.body.resources![0].extractable).toBe(true);
    });

    it('validates create bodies with the documented reason codes', async () => {
      reason(await kp.call('POST', 'keys', keyBody({ name: 'x'.repeat(91), extractable: true })), 400, 'INVALID_FIELD_ERR');
      reason(await kp.call('POST', 'keys', keyBody({ name: 'two', extractable: true }, 2, 1)), 400, 'COLLECTION_TOTAL_MISMATCH_ERR');
      reason(await kp.call('POST', 'keys', keyBody({ name: 'two', extractable: true }, 2, 2)), 400, 'BAD_BODY_ERR');
      reason(await kp.call('POST', 'keys', keyBody({ name: 'bad', extractable: true, payload: 'not base64!' })), 400, 'INVALID_FIELD_ERR');
      reason(await kp.call('POST', 'keys', keyBody({ name: 'big', extractable: true, payload: b64(randomBytes(7501)) })), 400, 'INVALID_FIELD_ERR');
      reason(await kp.call('POST', 'keys', { metadata: {}, resources: [] }), 400, 'BAD_BODY_ERR');
    });

    it('answers 404 KEY_NOT_FOUND_ERR for an unknown key', async () => {
      reason(await kp.call('GET', `keys/${randomUUID()}`), 404, 'KEY_NOT_FOUND_ERR');
      reason(await kp.action(randomUUID(), 'unwrap', { ciphertext: 'AAAA' }), 404, 'KEY_NOT_FOUND_ERR');
    });

    it('searches by name (exact:, name:, partial) and counts with HEAD', async () => {
      const c = new Client(emu);
      await c.login();
      await c.create('kmip-abc', true);
      await c.create('kmip-abcd', true);
      await c.create('other', false);
      const names = async (q: string) => (await c.call('GET', `keys?search=${encodeURIComponent(q)}`)).body.resources!.map((k) => k.name).sort();
      expect(await names('name:exact:kmip-abc')).toEqual(['kmip-abc']);
      expect(await names('kmip-abc')).toEqual(['kmip-abc', 'kmip-abcd']);
      expect(await names('not:kmip')).toEqual(['other']);
      const rootOnly = await c.call('GET', 'keys?extractable=false');
      expect(rootOnly.body.resources!.map((k) => k.name)).toEqual(['other']);
      const head = await c.call('HEAD', 'keys');
      expect(head.status).toBe(200);
      expect(head.headers.get('key-total')).toBe('3');
      const page = await c.call('GET', 'keys?limit=2&offset=1');
      expect(page.body.metadata).toEqual({ collectionType: KEY_JSON, collectionTotal: 2 });
    });
  });

  describe('wrap, unwrap, rewrap', () => {
    let root: string;
    beforeAll(async () => {
      root = String((await kp.create('crk', false)).id);
    });

    it('round-trips with AAD and rejects another AAD with 400 INVALID_FIELD_ERR on the ciphertext', async () => {
      const dek = randomBytes(32);
      const w = await kp.action(root, 'wrap', { plaintext: b64(dek), aad: ['tenant-a', 'uid-1'] });
      expect(w.status).toBe(200);
      expect(w.body).toEqual({ ciphertext: expect.any(String), keyVersion: { id: expect.any(String) } });
      const env = JSON.parse(Buffer.from(String(w.body.ciphertext), 'base64').toString()) as Record<string, unknown>;
      expect(Object.keys(env).sort()).toEqual(['ciphertext', 'handle', 'iv', 'version']);
      const u = await kp.action(root, 'unwrap', { ciphertext: w.body.ciphertext, aad: ['tenant-a', 'uid-1'] });
      expect(u.status).toBe(200);
      expect(u.body).toEqual({ plaintext: b64(dek), keyVersion: (w.body as { keyVersion: unknown }).keyVersion });
      expect(reason(await kp.action(root, 'unwrap', { ciphertext: w.body.ciphertext, aad: ['tenant-b', 'uid-1'] }), 400, 'INVALID_FIELD_ERR').target).toEqual({ type: 'field', name: 'ciphertext' });
      reason(await kp.action(root, 'unwrap', { ciphertext: w.body.ciphertext }), 400, 'INVALID_FIELD_ERR');
    });

    it('generates a 32-byte key when wrap has no plaintext', async () => {
      const w = await kp.action(root, 'wrap', null);
      expect(w.status).toBe(200);
      expect(Buffer.from(String(w.body.plaintext), 'base64')).toHaveLength(32);
      const u = await kp.action(root, 'unwrap', { ciphertext: w.body.ciphertext });
      expect(u.body.plaintext).toBe(w.body.plaintext);
    });

    it('rejects bad input with INVALID_FIELD_ERR, NO_BODY_ERR and KEY_ROOT_REQ_ERR', async () => {
      expect(reason(await kp.action(root, 'wrap', { plaintext: 'q+x3Qi.../BVb8;' }), 400, 'INVALID_FIELD_ERR').target).toEqual({ type: 'field', name: 'plaintext' });
      expect(reason(await kp.action(root, 'unwrap', { ciphertext: '***' }), 400, 'INVALID_FIELD_ERR').target).toEqual({ type: 'field', name: 'ciphertext' });
      reason(await kp.action(root, 'wrap', { plaintext: b64(randomBytes(16)), aad: ['x'.repeat(256)] }), 400, 'INVALID_FIELD_ERR');
      reason(await kp.action(root, 'unwrap'), 400, 'NO_BODY_ERR');
      const std = String((await kp.create('std', true)).id);
      reason(await kp.action(std, 'wrap', { plaintext: b64(randomBytes(16)) }), 400, 'KEY_ROOT_REQ_ERR');
      reason(await kp.action(std, 'rotate'), 400, 'KEY_ROOT_REQ_ERR');
      // Valid base64 that is not a ciphertext of the service.
      reason(await kp.action(root, 'unwrap', { ciphertext: b64(Buffer.from('hello')) }), 400, 'INVALID_FIELD_ERR');
    });

    it('after rotation, unwrap returns the rewrapped ciphertext and the rewrap action moves to the new version', async () => {
      const r = String((await kp.create('rotating', false)).id);
      const dek = randomBytes(32);
      const aad = ['t', 'u'];
      const w1 = await kp.action(r, 'wrap', { plaintext: b64(dek), aad });
      const v1 = (w1.body.keyVersion as { id: string }).id;
      const rot = await kp.action(r, 'rotate', null);
      expect(rot.status).toBe(204);
      const meta = await kp.call('GET', `keys/${r}/metadata`);
      const v2 = (meta.body.resources![0].keyVersion as { id: string }).id;
      expect(v2).not.toBe(v1);
      expect(typeof meta.body.resources![0].lastRotateDate).toBe('string');

      const u = await kp.action(r, 'unwrap', { ciphertext: w1.body.ciphertext, aad });
      expect(u.status).toBe(200);
      expect(u.body).toMatchObject({ plaintext: b64(dek), keyVersion: { id: v1 }, rewrappedKeyVersion: { id: v2 } });
      const u2 = await kp.action(r, 'unwrap', { ciphertext: u.body.ciphertext, aad });
      expect(u2.body).toEqual({ plaintext: b64(dek), keyVersion: { id: v2 } });

      const rw = await kp.action(r, 'rewrap', { ciphertext: w1.body.ciphertext, aad });
      expect(rw.status).toBe(200);
      expect(rw.body).toEqual({ ciphertext: expect.any(String), keyVersion: { id: v1 }, rewrappedKeyVersion: { id: v2 } });
      const w2 = await kp.action(r, 'wrap', { plaintext: b64(dek), aad });
      expect(w2.body.keyVersion).toEqual({ id: v2 });
    });

    it('enforces the rotation interval and the enable cooldown by default, and imported key material', async () => {
      const strict = await startEmulator();
      try {
        const c = new Client(strict, randomUUID(), 'k');
        await c.login();
        const r = String((await c.create('strict-root', false)).id);
        expect((await c.action(r, 'rotate')).status).toBe(204);
        reason(await c.action(r, 'rotate'), 409, 'KEY_ROTATION_NOT_PERMITTED');
        expect((await c.action(r, 'disable')).status).toBe(204);
        reason(await c.action(r, 'enable'), 409, 'REQ_TOO_EARLY_ERR');
        const imported = String((await c.create('imp', false, randomBytes(32))).id);
        reason(await c.action(imported, 'rotate', {}), 400, 'KEY_PAYLOAD_REQ_ERR');
        expect((await c.action(imported, 'rotate', { payload: b64(randomBytes(32)) })).status).toBe(204);
      } finally {
        await strict.close();
      }
    });
  });

  describe('states', () => {
    it('disable → suspended (2): wrap and unwrap fail with 409 KEY_ACTION_INVALID_STATE_ERR until enabled', async () => {
      const r = String((await kp.create('disable-me', false)).id);
      const w = await kp.action(r, 'wrap', { plaintext: b64(randomBytes(32)) });
      expect((await kp.action(r, 'disable')).status).toBe(204);
      expect((await kp.call('GET', `keys/${r}/metadata`)).body.resources![0].state).toBe(2);
      reason(await kp.action(r, 'unwrap', { ciphertext: w.body.ciphertext }), 409, 'KEY_ACTION_INVALID_STATE_ERR');
      reason(await kp.action(r, 'wrap', {}), 409, 'KEY_ACTION_INVALID_STATE_ERR');
      reason(await kp.action(r, 'disable'), 409, 'KEY_ACTION_INVALID_STATE_ERR');
      expect((await kp.action(r, 'enable', null)).status).toBe(204);
      expect((await kp.action(r, 'unwrap', { ciphertext: w.body.ciphertext })).status).toBe(200);
      reason(await kp.action(r, 'enable'), 409, 'KEY_ACTION_INVALID_STATE_ERR');
    });

    it('delete → 410 KEY_DELETED_ERR afterwards; restore brings it back; purge removes it (404)', async () => {
      const r = String((await kp.create('delete-me', false)).id);
      const w = await kp.action(r, 'wrap', { plaintext: b64(randomBytes(32)), aad: ['a'] });
      const del = await kp.call('DELETE', `keys/${r}`, undefined, { prefer: 'return=minimal' });
      expect(del.status).toBe(204);
      reason(await kp.action(r, 'unwrap', { ciphertext: w.body.ciphertext, aad: ['a'] }), 410, 'KEY_DELETED_ERR');
      reason(await kp.call('GET', `keys/${r}`), 410, 'KEY_DELETED_ERR');
      reason(await kp.call('DELETE', `keys/${r}`), 410, 'KEY_DELETED_ERR');
      const meta = await kp.call('GET', `keys/${r}/metadata`);
      expect(meta.body.resources![0]).toMatchObject({ state: 5, deleted: true, deletionDate: expect.any(String) });
      const list = await kp.call('GET', 'keys?search=exact:delete-me');
      expect(list.body.resources).toHaveLength(0);
      const listDeleted = await kp.call('GET', 'keys?state=5&search=exact:delete-me');
      expect(listDeleted.body.resources).toHaveLength(1);

      const res = await kp.call('POST', `keys/${r}/restore`);
      expect(res.status).toBe(201);
      expect(res.body.resources![0]).toMatchObject({ state: 1, deleted: false });
      expect((await kp.action(r, 'unwrap', { ciphertext: w.body.ciphertext, aad: ['a'] })).status).toBe(200);
      reason(await kp.call('POST', `keys/${r}/restore`), 409, 'KEY_ACTION_INVALID_STATE_ERR');

      const rep = await kp.call('DELETE', `keys/${r}`, undefined, { prefer: 'return=representation' });
      expect(rep.status).toBe(200);
      expect(rep.body.resources![0]).toMatchObject({ id: r, deleted: true });
      expect((await kp.call('DELETE', `keys/${r}/purge`)).status).toBe(200);
      reason(await kp.call('GET', `keys/${r}/metadata`), 404, 'KEY_NOT_FOUND_ERR');
    });

    it('deleting a standard key makes only that key answer 410', async () => {
      const a = String((await kp.create('std-a', true)).id);
      const b = String((await kp.create('std-b', true)).id);
      expect((await kp.call('DELETE', `keys/${a}`)).status).toBe(204);
      reason(await kp.call('GET', `keys/${a}`), 410, 'KEY_DELETED_ERR');
      expect((await kp.call('GET', `keys/${b}`)).status).toBe(200);
    });
  });

  it('persists keys to the data dir across a restart', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kpemu-'));
    try {
      const first = await startEmulator({ dataDir: dir });
      const c1 = new Client(first, 'persisted-instance', 'k');
      await c1.login();
      const r = String((await c1.create('persist-root', false)).id);
      const dek = randomBytes(32);
      const w = await c1.action(r, 'wrap', { plaintext: b64(dek), aad: ['x'] });
      const s = String((await c1.create('persist-std', true, dek)).id);
      // An instance without keys, and an instance policy, are state too.
      first.createInstance('empty-instance');
      const policy = await c1.call('PUT', 'instance/policies?policy=keyCreateImportAccess', {
        metadata: { collectionType: 'application/vnd.ibm.kms.policy+json', collectionTotal: 1 },
        resources: [{ policy_type: 'keyCreateImportAccess', policy_data: { enabled: true, attributes: { import_standard_key: false } } }],
      }, { 'content-type': 'application/vnd.ibm.kms.policy+json' });
      expect(policy.status).toBe(204);
      await first.close();
      expect(fs.statSync(path.join(dir, 'keyprotect-emulator.json')).mode & 0o077).toBe(0);

      const second = await startEmulator({ dataDir: dir });
      try {
        const c2 = new Client(second, 'persisted-instance', 'k');
        await c2.login();
        const u = await c2.action(r, 'unwrap', { ciphertext: w.body.ciphertext, aad: ['x'] });
        expect(u.body.plaintext).toBe(b64(dek));
        expect((await c2.call('GET', `keys/${s}`)).body.resources![0].payload).toBe(b64(dek));
        reason(await c2.call('POST', 'keys', keyBody({ name: 'kmip-refused', extractable: true, payload: b64(dek) })), 409, 'KEY_CREATE_IMPORT_ACCESS_ERR');
        const empty = new Client({ url: second.url } as Emulator, 'empty-instance', 'k');
        await empty.login();
        expect((await empty.call('GET', 'keys')).status).toBe(200);
        const never = new Client({ url: second.url } as Emulator, 'never-created', 'k');
        await never.login();
        unauthorized(await never.call('GET', 'keys'));
      } finally {
        await second.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps every change written to its journal through a kill -9 of the process', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kpemu-kill-'));
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const child = spawn(process.execPath, [path.join(__dirname, '../dist/main.js'), '--port', String(port), '--data-dir', dir, '--instance', 'journal-instance'], { stdio: 'ignore' });
    try {
      const url = `http://127.0.0.1:${port}`;
      for (let i = 0; ; i++) {
        if (await fetch(`${url}/_emulator/faults`).then(() => true, () => false)) break;
        if (i > 100) throw new Error('emulator child did not start');
        await new Promise((r) => setTimeout(r, 100));
      }
      const c1 = new Client({ url } as Emulator, 'journal-instance', 'k');
      await c1.login();
      const root = String((await c1.create('journal-root', false)).id);
      const deks = Array.from({ length: 20 }, () => randomBytes(32));
      const wrapped: string[] = [];
      const standard: string[] = [];
      for (const [i, dek] of deks.entries()) {
        wrapped.push(String((await c1.action(root, 'wrap', { plaintext: b64(dek), aad: [`k${i}`] })).body.ciphertext));
        standard.push(String((await c1.create(`journal-std-${i}`, true, dek)).id));
      }
      expect((await c1.action(root, 'rotate')).status).toBe(204);
      await new Promise((r) => setTimeout(r, 300)); // past the coalescing delay of the journal writer
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));

      const second = await startEmulator({ dataDir: dir });
      try {
        const c2 = new Client(second, 'journal-instance', 'k');
        await c2.login();
        for (const [i, dek] of deks.entries()) {
          const u = await c2.action(root, 'unwrap', { ciphertext: wrapped[i], aad: [`k${i}`] });
          expect(u.body.plaintext).toBe(b64(dek));
          expect(u.body.rewrappedKeyVersion).toBeDefined(); // the rotation survived too
          expect((await c2.call('GET', `keys/${standard[i]}`)).body.resources![0].payload).toBe(b64(dek));
        }
      } finally {
        await second.close();
      }
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('dialect: what HPCS does not document', () => {
    it('ignores or refuses aad, search and filter, and answers a failed unwrap with 422 when told to', async () => {
      const hpcs = await startEmulator({ dialect: { aad: 'ignored', search: 'ignored', filter: 'refused', aadMismatch: 'unprocessable' } });
      const strict = await startEmulator({ dialect: { aad: 'refused', search: 'refused' } });
      try {
        const c = new Client(hpcs, randomUUID(), 'k');
        await c.login();
        const root = String((await c.create('hpcs-root', false)).id);
        const w = await c.action(root, 'wrap', { plaintext: b64(randomBytes(32)), aad: ['t', 'u'] });
        // AAD ignored: another AAD still opens it.
        expect((await c.action(root, 'unwrap', { ciphertext: w.body.ciphertext, aad: ['x'] })).status).toBe(200);
        reason(await c.action(root, 'unwrap', { ciphertext: b64(Buffer.from('{"ciphertext":"AAAAAAAAAAAAAAAAAAAAAA==","iv":"AAAAAAAAAAAAAAAA","handle":"nope"}')) }), 422, 'UNPROCESSABLE_CIPHERTEXT_ERR');
        await c.create('kmip-a', true);
        await c.create('kmip-b', true);
        expect((await c.call('GET', 'keys?extractable=true&search=name:exact:kmip-a')).body.resources).toHaveLength(2); // search ignored
        reason(await c.call('GET', `keys?filter=${encodeURIComponent('extractable=true')}`), 400, 'INVALID_QUERY_PARAM_ERR');
        const s2 = new Client(strict, randomUUID(), 'k');
        await s2.login();
        const r2 = String((await s2.create('strict-root', false)).id);
        reason(await s2.action(r2, 'wrap', { plaintext: b64(randomBytes(32)), aad: ['t'] }), 400, 'BAD_BODY_ERR');
        expect((await s2.action(r2, 'wrap', { plaintext: b64(randomBytes(32)) })).status).toBe(200);
        reason(await s2.call('GET', 'keys?search=x'), 400, 'INVALID_QUERY_PARAM_ERR');
      } finally {
        await hpcs.close();
        await strict.close();
      }
    });
  });

  describe('fault injection', () => {
    it('injects an IBM reason code with its status (errorReason)', async () => {
      emu.faults.set({ errorRate: 1, errorReason: 'KEY_VERSION_INVALID', match: 'actions/unwrap' });
      const root = String((await kp.create('reason-root', false)).id);
      reason(await kp.action(root, 'unwrap', { ciphertext: 'AAAA' }), 422, 'KEY_VERSION_INVALID');
      expect((await kp.action(root, 'wrap', { plaintext: b64(randomBytes(32)) })).status).toBe(200); // not matched
      const r = await fetch(`${emu.url}/_emulator/faults`, { method: 'POST', body: JSON.stringify({ errorReason: 'NO_SUCH_CODE' }) });
      expect(r.status).toBe(400);
    });

    it('answers the chosen status at the chosen rate, with Retry-After', async () => {
      emu.faults.set({ errorRate: 1, errorStatus: 429, retryAfterSeconds: 2 });
      const r = await kp.call('GET', 'keys');
      expect(r.status).toBe(429);
      expect(r.headers.get('retry-after')).toBe('2');
      expect(r.body.metadata).toEqual({ collectionType: ERROR_JSON, collectionTotal: 1 });
      emu.faults.set({ errorRate: 0 });
      expect((await kp.call('GET', 'keys')).status).toBe(200);
    });

    it('adds latency', async () => {
      emu.faults.set({ latencyMs: 120 });
      const t = Date.now();
      await kp.call('GET', 'keys');
      expect(Date.now() - t).toBeGreaterThanOrEqual(110);
    });

    it('resets connections while down, and is controlled over HTTP as well', async () => {
      let r = await fetch(`${emu.url}/_emulator/faults`, { method: 'POST', body: JSON.stringify({ down: true }) });
      expect(((await r.json()) as { down: boolean }).down).toBe(true);
      await expect(kp.call('GET', 'keys')).rejects.toThrow();
      r = await fetch(`${emu.url}/_emulator/faults`, { method: 'DELETE' });
      expect(await r.json()).toMatchObject({ down: false, errorRate: 0, latencyMs: 0 });
      expect((await kp.call('GET', 'keys')).status).toBe(200);
      r = await fetch(`${emu.url}/_emulator/faults`, { method: 'POST', body: JSON.stringify({ errorRate: 2 }) });
      expect(r.status).toBe(400);
      const stats = (await (await fetch(`${emu.url}/_emulator/stats`)).json()) as { tokensIssued: number; requests: number };
      expect(stats.tokensIssued).toBeGreaterThan(0);
    });

    it('corrupts answers after processing, only for matching requests and only `times` times', async () => {
      const c = new Client(emu);
      await c.login();
      emu.faults.set({ corrupt: 'lost', match: '^POST /api/v2/keys$', times: 1 });
      await expect(c.call('POST', 'keys', keyBody({ name: 'landed', extractable: true }))).rejects.toThrow();
      expect(emu.keyCount(c.instance)).toBe(1); // processed, the answer lost
      expect(emu.faults.current.corrupt).toBe('none'); // used up
      expect((await c.call('GET', 'keys')).status).toBe(200);

      const root = String((await c.create('corrupt-root', false)).id);
      const wrapBody = { plaintext: b64(randomBytes(32)) };
      const raw = async () => {
        const r = await fetch(`${emu.url}/api/v2/keys/${root}/actions/wrap`, {
          method: 'POST', headers: { authorization: `Bearer ${c.token}`, 'bluemix-instance': c.instance, 'content-type': 'application/vnd.ibm.kms.key_action+json' }, body: JSON.stringify(wrapBody),
        });
        return { status: r.status, text: await r.text() };
      };
      emu.faults.set({ corrupt: 'json', match: 'actions/wrap', times: 0 });
      expect((await raw()).text).not.toMatch(/^\{/);
      emu.faults.set({ corrupt: 'fields' });
      expect(JSON.parse((await raw()).text)).toEqual({});
      emu.faults.set({ corrupt: 'types' });
      const typed = JSON.parse((await raw()).text) as { ciphertext: unknown; keyVersion: { id: unknown } };
      expect(typeof typed.ciphertext).toBe('number');
      expect(typeof typed.keyVersion.id).toBe('number');
      emu.faults.set({ corrupt: 'truncate' });
      await expect(raw()).rejects.toThrow();
      emu.faults.set({ corrupt: 'huge' });
      expect((await raw()).text.length).toBeGreaterThan(6 * 1024 * 1024);
      emu.faults.set({ corrupt: 'status', errorStatus: 500 });
      expect((await raw()).status).toBe(500);
      emu.faults.set({ corrupt: 'drip' });
      const t = Date.now();
      const dripping = await fetch(`${emu.url}/api/v2/keys/${root}/actions/wrap`, {
        method: 'POST', headers: { authorization: `Bearer ${c.token}`, 'bluemix-instance': c.instance, 'content-type': 'application/vnd.ibm.kms.key_action+json' },
        body: JSON.stringify(wrapBody), signal: AbortSignal.timeout(600),
      });
      expect(dripping.status).toBe(200); // the head comes at once, the body one byte per 200 ms
      await expect(dripping.text()).rejects.toThrow();
      expect(Date.now() - t).toBeLessThan(2_000);
      emu.faults.clear();
      expect((await raw()).status).toBe(200);
      expect((await fetch(`${emu.url}/_emulator/faults`, { method: 'POST', body: JSON.stringify({ corrupt: 'garbled' }) })).status).toBe(400);
      expect((await fetch(`${emu.url}/_emulator/faults`, { method: 'POST', body: JSON.stringify({ match: '(' }) })).status).toBe(400);
    });

    it('limits faults to IAM or to the Key Protect API (scope)', async () => {
      const token = () => fetch(`${emu.url}/identity/token`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=test-api-key',
      }).then((r) => r.status, () => 'reset');
      emu.faults.set({ down: true, scope: 'iam' });
      expect(await token()).toBe('reset');
      expect((await kp.call('GET', 'keys')).status).toBe(200); // its token was issued before
      emu.faults.set({ scope: 'api' });
      expect(await token()).toBe(200);
      await expect(kp.call('GET', 'keys')).rejects.toThrow();
      const r = await fetch(`${emu.url}/_emulator/faults`, { method: 'POST', body: JSON.stringify({ scope: 'dns' }) });
      expect(r.status).toBe(400);
    });
  });
});
