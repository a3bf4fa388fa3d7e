// A client certificate with a password, with PyKMIP over real mTLS
// (py/password.py): ProxyKmipClient's `username`/`password` send a KMIP
// Credential (Username and Password) in every request header, as vCenter
// does when its KMS entry has a password. The right password is served with
// any username; a wrong or missing one, or a Device credential, gets
// Authentication Not Successful; setting a new password closes the open
// connection and the old one is refused; clearing it lets a client without
// credentials in again. KMIP 1.1 (vCenter's version) and 2.0.
import { certFingerprint, hashPassword } from '@keywarden/common';
import { interopSuite, steps } from './harness';

const PASSWORD = 'kms password for vcenter 1';
const NEW_PASSWORD = 'kms password for vcenter 2';

const runs: Record<string, { s: ReturnType<typeof steps>; events: string[]; stderr: string }> = {};

interopSuite(async (io) => {
  const [hash, newHash] = await Promise.all([hashPassword(PASSWORD), hashPassword(NEW_PASSWORD)]);
  for (const version of ['1.1', '2.0']) {
    const t = await io.stack.createTenant();
    const fingerprint = certFingerprint(t.client.cert);
    await io.stack.adminCall('setCertificatePassword', { fingerprint, passwordHash: hash, clear: false });
    const events: string[] = [];
    const r = await io.run('password.py', { version, vc: io.writeClient(`vc-${version}`, t.client), password: PASSWORD, newPassword: NEW_PASSWORD }, {
      onEvent: async (ev, stdin) => {
        events.push(ev.event);
        if (ev.event === 'change') await io.stack.adminCall('setCertificatePassword', { fingerprint, passwordHash: newHash, clear: false });
        if (ev.event === 'clear') await io.stack.adminCall('setCertificatePassword', { fingerprint, passwordHash: '', clear: true });
        stdin.write('go\n');
      },
    });
    runs[version] = { s: steps(r), events, stderr: r.stderr };
  }
});

describe.each(['1.1', '2.0'])('KMIP %s', (version) => {
  const run = () => runs[version];

  test('the right password is served on every request of a connection, whatever the username', () => {
    const { s } = run();
    expect(s.ok('create')).toMatch(/\S/);
    expect(s.ok('get')).toBe(32);
    s.ok('activate');
    expect(s.ok('state')).toEqual(['ACTIVE']);
    expect(s.ok('otherUsername')).toEqual({ ok: true, value: 32 });
    expect(s.ok('stillServed')).toBe(32);
  });

  test('a wrong or missing password, or a Device credential, gets Authentication Not Successful with a clear text', () => {
    const { s } = run();
    const wrong = s.ok('wrongPassword');
    expect(wrong).toMatchObject({ ok: false, status: 'OPERATION_FAILED', reason: 'AUTHENTICATION_NOT_SUCCESSFUL' });
    expect(wrong.message).toMatch(/not the one set for this client certificate/);
    const none = s.ok('noCredential');
    expect(none).toMatchObject({ ok: false, status: 'OPERATION_FAILED', reason: 'AUTHENTICATION_NOT_SUCCESSFUL' });
    expect(none.message).toMatch(/requires a password: send a KMIP Credential of type Username and Password/);
    const device = s.ok('deviceCredential');
    expect(device).toMatchObject({ ok: true, value: { status: 'OPERATION_FAILED', reason: 'AUTHENTICATION_NOT_SUCCESSFUL' } });
    expect(device.value.message).toMatch(/Credential is of type Device, not Username and Password/);
  });

  test('a new password closes the open connection; the old one is refused, the new one served; cleared, no credential is needed', () => {
    const { s, events } = run();
    expect(events).toEqual(['change', 'clear']);
    expect(s.ok('openConnectionClosed')).toMatchObject({ closedByServer: true });
    expect(s.ok('oldPassword')).toMatchObject({ ok: false, reason: 'AUTHENTICATION_NOT_SUCCESSFUL' });
    expect(s.ok('newPassword')).toEqual({ ok: true, value: 32 });
    expect(s.ok('clearedNoCredential')).toEqual({ ok: true, value: 32 });
    expect(s.ok('clearedAnyCredential')).toEqual({ ok: true, value: 32 });
  });

  test('no password appears in what the script printed', () => {
    const { s, stderr } = run();
    for (const secret of [PASSWORD, NEW_PASSWORD]) {
      expect(JSON.stringify(s.all)).not.toContain(secret);
      expect(stderr).not.toContain(secret);
    }
  });
});
