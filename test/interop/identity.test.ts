// Identity and isolation with PyKMIP over real mTLS (py/identity.py): another
// tenant's certificate cannot see or touch a key (Item Not Found, exactly as
// for a missing uid), an unregistered certificate is refused with Permission
// Denied naming its fingerprint, and removing a certificate closes its open
// connection at once and refuses new ones.
import { execFileSync } from 'child_process';
import { X509Certificate } from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { certFingerprint, Issued, issueCertificate } from '@keywarden/common';
import type { adminV1 } from '@keywarden/proto';
import { interopSuite, steps } from './harness';

/** A self-signed certificate made the common way (`openssl req -x509`, which sets CA:TRUE), as vCenter may have. */
function opensslSelfSigned(): Issued {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-selfsigned-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=vcenter-selfsigned', '-days', '30',
      '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem')], { stdio: 'ignore' });
    return { cert: fs.readFileSync(path.join(dir, 'c.pem'), 'utf8'), key: fs.readFileSync(path.join(dir, 'k.pem'), 'utf8') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

let s: ReturnType<typeof steps>;
let uid: string;
let events: string[];
const stranger = issueCertificate(null, { commonName: 'stranger', usage: 'client' });
let removedCert: string;
const selfSigned = opensslSelfSigned();
let selfSignedWarnings: string[];

interopSuite(async (io) => {
  const owner = await io.stack.createTenant();
  const other = await io.stack.createTenant();
  const removed = await io.stack.createTenant();
  removedCert = removed.client.cert;
  selfSignedWarnings = (await io.stack.adminCall<object, adminV1.Certificate>('addCertificate', { tenantId: owner.id, pem: selfSigned.cert })).warnings;
  events = [];
  const r = await io.run('identity.py', {
    version: '1.1',
    tag: owner.id,
    owner: io.writeClient('owner', owner.client),
    other: io.writeClient('other', other.client),
    stranger: io.writeClient('stranger', stranger),
    removed: io.writeClient('removed', removed.client),
    selfsigned: io.writeClient('selfsigned', selfSigned),
  }, {
    onEvent: async (ev, stdin) => {
      events.push(ev.event);
      // The script is connected and has used its connection: remove its certificate, then let it go on.
      expect(ev.fingerprint).toBe(certFingerprint(removedCert));
      await io.stack.adminCall('removeCertificate', { fingerprint: certFingerprint(removedCert) });
      stdin.write('go\n');
    },
  });
  s = steps(r);
  uid = r.out.uid;
});

test("another tenant's certificate gets Item Not Found for the key, with the same message as for a missing uid", () => {
  expect(s.ok('ownerCreate')).toBe(uid);
  expect(s.ok('ownerGet')).toBe(32);
  s.ok('otherCreate');
  for (const op of ['get', 'getAttributes', 'getAttributeList', 'addAttribute', 'activate', 'revoke', 'destroy']) {
    const { foreign, missing } = s.ok(op);
    expect({ op, ...foreign }).toMatchObject({ op, ok: false, status: 'OPERATION_FAILED', reason: 'ITEM_NOT_FOUND' });
    expect({ op, ...missing }).toMatchObject({ op, ok: false, status: 'OPERATION_FAILED', reason: 'ITEM_NOT_FOUND' });
    expect(foreign.message.replace(uid, 'X')).toBe(missing.message.replace('11111111-2222-3333-4444-555555555555', 'X'));
  }
});

test("Locate never lists another tenant's keys, and the owner's key is untouched", () => {
  expect(s.ok('otherLocateAll')).toEqual([s.ok('otherCreate')]);
  expect(s.ok('otherLocateByName')).toEqual([]);
  expect(s.ok('ownerStateAfter')).toEqual(['PRE_ACTIVE']);
  expect(s.ok('ownerLocateAll')).toEqual([uid]);
});

test('an unregistered certificate gets Permission Denied naming its fingerprint', () => {
  const fp = certFingerprint(stranger.cert);
  expect(s.ok('fingerprints').stranger).toBe(fp);
  for (const step of ['strangerCreate', 'strangerGet', 'strangerLocate']) {
    const r = s.ok(step);
    expect({ step, ...r }).toMatchObject({ step, ok: false, status: 'OPERATION_FAILED', reason: 'PERMISSION_DENIED' });
    expect(r.message).toContain(`sha256:${fp}`);
  }
});

test('a removed certificate: its open connection is closed by the server, a new one is refused', () => {
  expect(events).toEqual(['connected']);
  expect(s.ok('removedBefore')).toMatch(/\S/);
  expect(s.ok('removedOpenConnection')).toMatchObject({ closedByServer: true });
  expect(s.ok('removedOpenConnectionUse')).toMatchObject({ ok: false, error: 'EOFError' });
  const again = s.ok('removedNewConnection');
  expect(again).toMatchObject({ ok: false, status: 'OPERATION_FAILED', reason: 'PERMISSION_DENIED' });
  expect(again.message).toContain(`sha256:${certFingerprint(removedCert)}`);
});

test('a self-signed CA:TRUE certificate made by openssl is registered with a warning and works as a KMIP client', () => {
  expect(new X509Certificate(selfSigned.cert).ca).toBe(true);
  expect(selfSignedWarnings).toEqual([expect.stringContaining('self-signed with CA:TRUE')]);
  expect(s.ok('selfSignedCreate')).toMatch(/\S/);
  expect(s.ok('selfSignedGet')).toBe(32);
});
