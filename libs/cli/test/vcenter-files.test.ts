// `keywarden vcenter`: the files it writes (exclusive creation, no symbolic
// links followed, keys 0600, names that stay in --out-dir, nothing left behind
// by a command that fails) and the certificates it refuses to sign or issue
// (names of keywarden's internal roles, ambiguous or wildcard subjects).
import { execFileSync } from 'child_process';
import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import forge from 'node-forge';
import { createCa, createCsr, issueCertificate } from '@keywarden/common';
import { runCaptured } from './capture';
import { TestStack, startStack } from '../../../test/lib';

/** A data directory as the local stack lays it out: pki/ (the KMIP CA) and pki/internal/ (the operator's identity). */
let dataDir: string;
let pkiDir: string;
let work: string;
let stack: TestStack | undefined;
/** An Admin API endpoint nothing listens on: commands that must fail before calling it never notice. */
const NOWHERE = 'localhost:1';

beforeAll(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-vc-pki-'));
  pkiDir = path.join(dataDir, 'pki');
  fs.mkdirSync(path.join(pkiDir, 'internal'), { recursive: true });
  const ca = createCa('vcenter files test CA');
  fs.writeFileSync(path.join(pkiDir, 'ca.crt'), ca.cert);
  fs.writeFileSync(path.join(pkiDir, 'ca.key'), ca.key);
  // An admin identity, so that --register gets as far as calling the (absent) Admin API.
  const admin = issueCertificate(ca, { commonName: 'cli-test', usage: 'client' });
  fs.writeFileSync(path.join(pkiDir, 'internal', 'ca.crt'), ca.cert);
  fs.writeFileSync(path.join(pkiDir, 'internal', 'admin.crt'), admin.cert);
  fs.writeFileSync(path.join(pkiDir, 'internal', 'admin.key'), admin.key);
});

afterAll(() => {
  fs.rmSync(dataDir, { recursive: true, force: true });
});

beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-vc-'));
});

afterEach(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

function kwAt(endpoint: string, data: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return runCaptured(['--endpoint', endpoint, '--data-dir', data, '--timeout', '3', ...args]);
}

const kw = (...args: string[]) => kwAt(NOWHERE, dataDir, ...args);

/** Every entry under `dir`, recursively, as relative paths. */
function tree(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

const mode = (f: string) => (fs.lstatSync(f).mode & 0o777).toString(8);

describe('issue-client writes new files only', () => {
  test('writes <name>.crt (0644 less umask) and <name>.key (0600, even under umask 000) for the name', async () => {
    const old = process.umask(0o000);
    try {
      const r = await kw('vcenter', 'issue-client', 'vc-lab.example.com', '--out-dir', path.join(work, 'out'));
      expect(r).toMatchObject({ code: 0, err: '' });
    } finally {
      process.umask(old);
    }
    expect(tree(work)).toEqual(['out', 'out/vc-lab.example.com.crt', 'out/vc-lab.example.com.key']);
    expect(mode(path.join(work, 'out/vc-lab.example.com.key'))).toBe('600');
    expect(mode(path.join(work, 'out/vc-lab.example.com.crt'))).toBe('644');
    expect(mode(path.join(work, 'out'))).toBe('700');
    const cert = new X509Certificate(fs.readFileSync(path.join(work, 'out/vc-lab.example.com.crt')));
    expect(cert.subject).toContain('CN=vc-lab.example.com');
    expect(cert.checkPrivateKey(createPrivateKey(fs.readFileSync(path.join(work, 'out/vc-lab.example.com.key'))))).toBe(true);
  });

  test('an existing key file (mode 0666) is refused, not written through, and no certificate is written', async () => {
    const key = path.join(work, 'vc.key');
    fs.writeFileSync(key, 'previous content\n');
    fs.chmodSync(key, 0o666);
    const r = await kw('vcenter', 'issue-client', 'vc', '--out-dir', work);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/vc\.key exists \(a file\); refusing to overwrite/);
    expect(fs.readFileSync(key, 'utf8')).toBe('previous content\n');
    expect(mode(key)).toBe('666');
    expect(tree(work)).toEqual(['vc.key']);
  });

  test('a symbolic link in place of the key is not followed, whether dangling or to an existing file', async () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-vc-outside-'));
    try {
      const victim = path.join(outside, 'victim');
      fs.writeFileSync(victim, 'keep me\n', { mode: 0o644 });
      fs.symlinkSync(victim, path.join(work, 'a.key'));
      const r1 = await kw('vcenter', 'issue-client', 'a', '--out-dir', work);
      expect(r1.code).toBe(2);
      expect(r1.err).toMatch(/a\.key exists \(a symbolic link\)/);
      expect(fs.readFileSync(victim, 'utf8')).toBe('keep me\n');

      fs.symlinkSync(path.join(outside, 'planted'), path.join(work, 'b.key'));
      const r2 = await kw('vcenter', 'issue-client', 'b', '--out-dir', work);
      expect(r2.code).toBe(2);
      expect(fs.existsSync(path.join(outside, 'planted'))).toBe(false);
      expect(tree(outside)).toEqual(['victim']);
      expect(tree(work)).toEqual(['a.key', 'b.key']);
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  test('issuing the same name twice is refused and keeps the first pair', async () => {
    expect((await kw('vcenter', 'issue-client', 'vc', '--out-dir', work)).code).toBe(0);
    const first = fs.readFileSync(path.join(work, 'vc.key'));
    const again = await kw('vcenter', 'issue-client', 'vc', '--out-dir', work);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/vc\.crt exists/);
    expect(fs.readFileSync(path.join(work, 'vc.key')).equals(first)).toBe(true);
  });

  test('an --out-dir that is a symbolic link is refused (naming its target), and one that is a file too', async () => {
    const real = path.join(work, 'real');
    fs.mkdirSync(real);
    fs.symlinkSync(real, path.join(work, 'link'));
    const r = await kw('vcenter', 'issue-client', 'vc', '--out-dir', path.join(work, 'link'));
    expect(r.code).toBe(2);
    expect(r.err).toContain(`is a symbolic link; give the directory itself (${fs.realpathSync(real)})`);
    const slash = await kw('vcenter', 'issue-client', 'vc', '--out-dir', path.join(work, 'link') + '/');
    expect(slash.code).toBe(2);
    expect(tree(real)).toEqual([]);
    fs.writeFileSync(path.join(work, 'file'), '');
    const f = await kw('vcenter', 'issue-client', 'vc', '--out-dir', path.join(work, 'file'));
    expect(f.code).toBe(2);
    expect(f.err).toMatch(/is not a directory/);
  });

  test.each([
    ['../x', /path separator/],
    ['sub/x', /path separator/],
    ['..\\x', /path separator/],
    ['..', /"\.\."/],
    ['a..b', /"\.\."/],
    ['', /empty/],
    [' ', /empty/],
    ['-x', /starts with "-"/],
    ['.hidden', /starts with "\."/],
    ['a\0b', /NUL/],
    ['a\nb', /control character/],
    ['*', /wildcard/],
    ['x'.repeat(65), /longer than 64/],
    ['admin', /internal role/],
    ['Operator', /internal role/],
    ['KMIP-GATEWAY', /internal role/],
    ['key-lifecycle', /internal role/],
    ['crk-wrapping', /internal role/],
    ['keyprotect-emulator', /internal role/],
    ['ａｄｍｉｎ', /internal role/],
  ])('the name %j is refused with exit 2 before anything is written', async (name, why) => {
    const out = path.join(work, 'out');
    // "--" so that a name starting with "-" reaches the command rather than the option parser.
    const r = await kw('vcenter', 'issue-client', '--out-dir', out, '--', name);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(why);
    expect(r.err).toMatch(/cannot issue a client certificate named/);
    expect(tree(work)).toEqual([]);
    expect(tree(path.dirname(work)).filter((f) => f === 'x.crt' || f === 'x.key')).toEqual([]);
  });

  test('a failed registration leaves nothing behind: not the files, not the --out-dir it created', async () => {
    const r = await kw('vcenter', 'issue-client', 'vc', '--out-dir', path.join(work, 'new', 'dir'), '--register', 'some-tenant');
    expect(r.code).toBe(6);
    expect(r.err).toMatch(/cannot reach the Admin API/);
    expect(tree(work)).toEqual([]);
  });
});

describe('sign-csr and export-ca --out', () => {
  let csrFile: string;
  beforeEach(() => {
    csrFile = path.join(work, 'vc.csr');
    fs.writeFileSync(csrFile, createCsr('vcenter.example.com').csr);
  });

  test('an existing --out file is refused and kept; so is a symbolic link, whose target is not written', async () => {
    const out = path.join(work, 'vc.crt');
    fs.writeFileSync(out, 'old certificate\n');
    const r = await kw('vcenter', 'sign-csr', csrFile, '--out', out);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/vc\.crt exists \(a file\); refusing to overwrite it or write through it: remove it or choose another --out/);
    expect(fs.readFileSync(out, 'utf8')).toBe('old certificate\n');

    const target = path.join(work, 'target');
    fs.symlinkSync(target, path.join(work, 'link.crt'));
    const l = await kw('vcenter', 'sign-csr', csrFile, '--out', path.join(work, 'link.crt'));
    expect(l.code).toBe(2);
    expect(fs.existsSync(target)).toBe(false);

    const ca = await kw('vcenter', 'export-ca', '--ca-cert', path.join(pkiDir, 'ca.crt'), '--out', out);
    expect(ca.code).toBe(2);
    expect(fs.readFileSync(out, 'utf8')).toBe('old certificate\n');
  });

  test('a new --out file is written; a failed registration removes it again', async () => {
    const ok = await kw('vcenter', 'sign-csr', csrFile, '--out', path.join(work, 'ok.crt'));
    expect(ok.code).toBe(0);
    expect(new X509Certificate(fs.readFileSync(path.join(work, 'ok.crt'))).subject).toContain('CN=vcenter.example.com');
    const failed = await kw('vcenter', 'sign-csr', csrFile, '--out', path.join(work, 'sub', 'failed.crt'), '--register', 'some-tenant');
    expect(failed.code).toBe(6);
    expect(tree(work)).toEqual(['ok.crt', 'vc.csr']);
  });
});

/** Makes a CSR with openssl, as vCenter and operators do: `subj` in openssl's /A=b/C=d form, extra `-addext` values. */
function opensslCsr(subj: string, addext: string[] = [], extra: string[] = []): string {
  const key = path.join(work, 'csr.key');
  if (!fs.existsSync(key)) execFileSync('openssl', ['genrsa', '-out', key, '2048'], { stdio: 'ignore' });
  const file = path.join(work, `req-${fs.readdirSync(work).length}.csr`);
  execFileSync('openssl', ['req', '-new', '-key', key, '-subj', subj, ...extra, ...addext.flatMap((a) => ['-addext', a]), '-out', file], { stdio: 'ignore' });
  return file;
}

/** Makes a CSR with node-forge, for subjects openssl will not write (none at all, a BMPString CN). */
function forgeCsr(subject: Array<{ name: string; value: string; valueTagClass?: number }>): string {
  // Node generates the key (forge's pure-JS generator takes seconds).
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  csr.setSubject(subject as forge.pki.CertificateField[]);
  csr.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()), forge.md.sha256.create());
  const file = path.join(work, `forge-${fs.readdirSync(work).length}.csr`);
  fs.writeFileSync(file, forge.pki.certificationRequestToPem(csr));
  return file;
}

describe('sign-csr refuses what a vCenter client certificate must not be', () => {
  const bmp = (s: string) => Buffer.from(s, 'utf16le').swap16().toString('binary');

  test.each<[string, () => string, RegExp]>([
    ['CN=admin', () => opensslCsr('/CN=admin'), /common name "admin" names a keywarden internal role/],
    ['CN=Key-Lifecycle (any case)', () => opensslCsr('/O=vmware/CN=Key-Lifecycle'), /"Key-Lifecycle" names a keywarden internal role/],
    ['two CNs, the second an internal one', () => opensslCsr('/CN=vcenter.example.com/CN=OPERATOR'), /"OPERATOR" names a keywarden internal role/],
    ['a multi-valued RDN hiding a CN', () => opensslCsr('/CN=vcenter.example.com+CN=crk-wrapping', [], ['-multivalue-rdn']), /"crk-wrapping" names/],
    ['CN and SAN disagree: a role URI SAN', () => opensslCsr('/CN=vcenter.example.com', ['subjectAltName=DNS:vcenter.example.com,URI:spiffe://keywarden/operator/alice']),
      /subject alternative name "spiffe:\/\/keywarden\/operator\/alice" names a keywarden internal role/],
    ['a role URI in capitals', () => opensslCsr('/CN=vc', ['subjectAltName=URI:SPIFFE://KEYWARDEN/kmip-gateway']), /"SPIFFE:\/\/KEYWARDEN\/kmip-gateway"/],
    ['anything under spiffe://keywarden', () => opensslCsr('/CN=vc', ['subjectAltName=URI:spiffe://keywarden/not-a-role-yet']), /spiffe:\/\/keywarden\/not-a-role-yet/],
    ['a role name as DNS SAN', () => opensslCsr('/CN=vc', ['subjectAltName=DNS:kmip-gateway']), /subject alternative name "kmip-gateway"/],
    ['a role URI in an otherName SAN', () => opensslCsr('/CN=vc', ['subjectAltName=otherName:1.3.6.1.4.1.311.20.2.3;UTF8:spiffe://keywarden/operator']), /"spiffe:\/\/keywarden\/operator"/],
    ['a BMPString CN', () => forgeCsr([{ name: 'commonName', value: bmp('admin'), valueTagClass: forge.asn1.Type.BMPSTRING }]), /"admin" names a keywarden internal role/],
    ['two harmless CNs', () => opensslCsr('/CN=vc1.example.com/CN=vc2.example.com'), /2 common names \("vc1.example.com", "vc2.example.com"\); a client certificate has one/],
    ['no subject at all', () => forgeCsr([]), /no common name/],
    ['a subject without CN', () => forgeCsr([{ name: 'organizationName', value: 'vmware' }]), /no common name/],
    ['a wildcard CN', () => opensslCsr('/CN=*.example.com'), /"\*\.example\.com" is a wildcard/],
    ['a lone wildcard CN', () => opensslCsr('/CN=*'), /"\*" is a wildcard/],
  ])('%s: exit 2 with the reason, nothing written', async (_what, make, why) => {
    const csr = make();
    const before = tree(work);
    const r = await kw('vcenter', 'sign-csr', csr, '--out', path.join(work, 'signed.crt'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot sign .*: refused: /);
    expect(r.err).toMatch(why);
    expect(r.out).toBe('');
    expect(tree(work)).toEqual(before);
  });

  test('a plain vCenter CSR whose DNS SAN differs from its CN is signed (the certificate carries the CN only)', async () => {
    const csr = opensslCsr('/C=US/O=VMware/CN=vcenter.example.com', ['subjectAltName=DNS:vc.other.example.com,IP:192.0.2.10']);
    const r = await kw('vcenter', 'sign-csr', csr);
    expect(r.code).toBe(0);
    const cert = new X509Certificate(r.out);
    expect(cert.subject).toBe('CN=vcenter.example.com');
    expect(cert.subjectAltName).toBeUndefined();
  });
});

describe('against the Admin API', () => {
  let adminPki: string;
  beforeAll(async () => {
    stack = await startStack();
    adminPki = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-vc-admin-'));
    // The Admin API's trust (the internal CA) and an operator certificate in pki/internal; vCenter's certificates come from the KMIP CA in pki/.
    const internalDir = path.join(adminPki, 'pki', 'internal');
    fs.mkdirSync(internalDir, { recursive: true });
    fs.writeFileSync(path.join(internalDir, 'ca.crt'), stack.pki.internalCa.cert);
    fs.writeFileSync(path.join(internalDir, 'admin.crt'), stack.pki.admin.cert);
    fs.writeFileSync(path.join(internalDir, 'admin.key'), stack.pki.admin.key);
    fs.writeFileSync(path.join(adminPki, 'pki', 'ca.crt'), stack.pki.ca.cert);
    fs.writeFileSync(path.join(adminPki, 'pki', 'ca.key'), stack.pki.ca.key);
  }, 60_000);

  afterAll(async () => {
    await stack?.close();
    if (adminPki) fs.rmSync(adminPki, { recursive: true, force: true });
  }, 30_000);

  const admin = (...args: string[]) => kwAt(`localhost:${stack!.lifecyclePort}`, adminPki, ...args);

  test('issue-client --register nosuch exits 3 and leaves neither .crt nor .key', async () => {
    const r = await admin('vcenter', 'issue-client', 'vc', '--out-dir', work, '--register', 'nosuch');
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/nosuch/);
    expect(tree(work)).toEqual([]);
  });

  test('sign-csr --register nosuch exits 3 and leaves no --out file', async () => {
    fs.writeFileSync(path.join(work, 'vc.csr'), createCsr('vcenter.example.com').csr);
    const r = await admin('vcenter', 'sign-csr', path.join(work, 'vc.csr'), '--out', path.join(work, 'vc.crt'), '--register', 'nosuch');
    expect(r.code).toBe(3);
    expect(tree(work)).toEqual(['vc.csr']);
  });
});
