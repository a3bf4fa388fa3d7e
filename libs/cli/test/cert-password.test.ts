// `keywarden cert add --password-env`, `cert set-password`, `cert clear-password`
// against a running stack (real key-lifecycle, Redis, Admin API over mTLS):
// the CLI hashes the password, the hash it sends is the one key-lifecycle
// verifies, the password never appears in any output, and bad input stops
// the command before anything is sent.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { certFingerprint, channelCredentials, grpc, issueCertificate } from '@keywarden/common';
import { runCaptured } from './capture';
import { lifecycleV1 } from '@keywarden/proto';
import { TestStack, TestTenant, startStack } from '../../../test/lib';

jest.setTimeout(60_000);

const PW = 'vcenter kms password 1';
const PW2 = 'Ünïcode kms password 2';
let stack: TestStack;
let dataDir: string;
let tenant: TestTenant;
let lc: lifecycleV1.KeyLifecycleClient;

beforeAll(async () => {
  stack = await startStack();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-cli-pw-'));
  const internal = path.join(dataDir, 'pki', 'internal');
  fs.mkdirSync(internal, { recursive: true });
  fs.writeFileSync(path.join(internal, 'ca.crt'), stack.pki.internalCa.cert);
  fs.writeFileSync(path.join(internal, 'admin.crt'), stack.pki.admin.cert);
  fs.writeFileSync(path.join(internal, 'admin.key'), stack.pki.admin.key);
  tenant = await stack.createTenant();
  // As the gateway: Identify with a password is what a KMIP Credential becomes.
  lc = new lifecycleV1.KeyLifecycleClient(`localhost:${stack.lifecyclePort}`, channelCredentials(stack.pki.gateway));
}, 60_000);

afterAll(async () => {
  lc?.close();
  await stack?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
}, 30_000);

/** Every output of the commands so far, to check that no password ever shows. */
let everything = '';

async function kw(env: Record<string, string | undefined>, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    const r = await runCaptured(['--endpoint', `localhost:${stack.lifecyclePort}`, '--data-dir', dataDir, ...args]);
    everything += r.out + r.err;
    return r;
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** Identify as the gateway does for a request with this password: the answer, or the gRPC code of the refusal. */
function identify(fp: string, password?: string): Promise<lifecycleV1.IdentifyResponse | number> {
  return new Promise((resolve) => lc.identify({ caller: { certFingerprint: fp }, ...(password ? { password } : {}) }, (err, r) => resolve(err ? err.code : r)));
}

function pemFile(name: string): { file: string; fp: string } {
  const c = issueCertificate(null, { commonName: name, usage: 'client' });
  const file = path.join(dataDir, `${name}.pem`);
  fs.writeFileSync(file, c.cert);
  return { file, fp: certFingerprint(c.cert) };
}

test('cert add --password-env registers the certificate with the password key-lifecycle then verifies', async () => {
  const { file, fp } = pemFile('vc-add');
  const r = await kw({ KW_PW: PW }, 'cert', 'add', tenant.id, file, '--password-env', 'KW_PW');
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/password:\s+set \(give vCenter the same password/);
  expect(await identify(fp, PW)).toMatchObject({ tenantId: tenant.id, passwordRequired: true });
  expect(await identify(fp, 'not the password')).toBe(grpc.status.UNAUTHENTICATED);

  const listed = await kw({}, '--json', 'cert', 'list', '--tenant', tenant.id);
  expect(JSON.parse(listed.out)).toEqual(expect.arrayContaining([expect.objectContaining({ fingerprint: fp, passwordSet: true })]));
  const table = await kw({}, 'cert', 'list', '--tenant', tenant.id);
  expect(table.out).toMatch(/PASSWORD/);
  expect(table.out.split('\n').find((l) => l.startsWith(fp))).toMatch(/yes\s*$/);
  expect(table.out.split('\n').find((l) => l.startsWith(certFingerprint(tenant.client.cert)))).toMatch(/no\s*$/);

  // Adding it again with a password: a conflict (set-password changes it), exit 4; the password is unchanged.
  const again = await kw({ KW_PW: PW2 }, 'cert', 'add', tenant.id, file, '--password-env', 'KW_PW');
  expect(again.code).toBe(4);
  expect(again.err).toMatch(/set-password/);
  expect(await identify(fp, PW)).toMatchObject({ passwordRequired: true });
});

test('cert set-password and clear-password change what is verified', async () => {
  const { file, fp } = pemFile('vc-set');
  expect((await kw({}, 'cert', 'add', tenant.id, file)).code).toBe(0);
  expect(await identify(fp, PW)).toEqual({ tenantId: tenant.id });

  const set = await kw({ KW_PW: PW2 }, 'cert', 'set-password', fp.toUpperCase().match(/../g)!.join(':'), '--password-env', 'KW_PW');
  expect(set.code).toBe(0);
  expect(set.out).toMatch(new RegExp(`^password set for ${fp}; give vCenter the same password`));
  // Unicode in either normalization form is the same password (NFC, as scrypt hashes it).
  expect(await identify(fp, PW2)).toMatchObject({ passwordRequired: true });
  expect(await identify(fp, PW2.normalize('NFD'))).toMatchObject({ passwordRequired: true });
  expect(await identify(fp, PW)).toBe(grpc.status.UNAUTHENTICATED);

  const json = await kw({ KW_PW: PW }, '--json', 'cert', 'set-password', fp, '--password-env', 'KW_PW');
  expect(JSON.parse(json.out)).toMatchObject({ fingerprint: fp, passwordSet: true });
  expect(await identify(fp, PW)).toMatchObject({ passwordRequired: true });

  const cleared = await kw({}, 'cert', 'clear-password', fp);
  expect(cleared).toMatchObject({ code: 0, out: `password cleared for ${fp}\n` });
  expect(await identify(fp)).toEqual({ tenantId: tenant.id });
  expect(await identify(fp, 'anything')).toEqual({ tenantId: tenant.id });
});

test('bad input stops the command before anything is sent, with exit 2 (3 for an unknown certificate)', async () => {
  const { file, fp } = pemFile('vc-bad');
  expect((await kw({ KW_PW: PW }, 'cert', 'add', tenant.id, file, '--password-env', 'KW_PW')).code).toBe(0);
  const unset = await kw({ KW_UNSET: undefined }, 'cert', 'set-password', fp, '--password-env', 'KW_UNSET');
  expect(unset.code).toBe(2);
  expect(unset.err).toMatch(/environment variable KW_UNSET is empty or unset/);
  const short = await kw({ KW_PW: 'short' }, 'cert', 'set-password', fp, '--password-env', 'KW_PW');
  expect(short.code).toBe(2);
  expect(short.err).toMatch(/at least 12 characters/);
  const long = await kw({ KW_PW: 'x'.repeat(1025) }, 'cert', 'set-password', fp, '--password-env', 'KW_PW');
  expect(long.code).toBe(2);
  expect(long.err).toMatch(/at most 1024 characters/);
  const both = await kw({ KW_PW: PW2 }, 'cert', 'set-password', fp, '--password-env', 'KW_PW', '--password-stdin');
  expect(both.code).toBe(2);
  // A fingerprint that is not one: refused before the password is read or hashed.
  const t0 = Date.now();
  const badFp = await kw({ KW_PW: PW2 }, 'cert', 'set-password', 'zz', '--password-env', 'KW_PW');
  expect(badFp.code).toBe(2);
  expect(Date.now() - t0).toBeLessThan(250);
  expect((await kw({}, 'cert', 'clear-password', 'zz')).code).toBe(2);
  // Nothing changed: the first password is still the one.
  expect(await identify(fp, PW)).toMatchObject({ passwordRequired: true });

  const unknown = await kw({ KW_PW: PW2 }, 'cert', 'set-password', 'ab'.repeat(32), '--password-env', 'KW_PW');
  expect(unknown.code).toBe(3);
  expect((await kw({}, 'cert', 'clear-password', 'ab'.repeat(32))).code).toBe(3);
  // A weak password on cert add: nothing registered.
  const { file: f2, fp: fp2 } = pemFile('vc-weak');
  expect((await kw({ KW_PW: 'short' }, 'cert', 'add', tenant.id, f2, '--password-env', 'KW_PW')).code).toBe(2);
  expect(await identify(fp2)).toBe(grpc.status.PERMISSION_DENIED);
});

afterAll(() => {
  // No command printed a password or a hash.
  for (const secret of [PW, PW2, '$scrypt$']) expect(everything).not.toContain(secret);
});
