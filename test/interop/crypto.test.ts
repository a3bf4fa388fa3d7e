// Cryptographic operations with server-held keys through the gateway, driven
// by PyKMIP (py/crypto.py) over real mTLS against the full stack, each result
// checked with python-cryptography, in KMIP 1.2, 1.4 and 2.0 (Encrypt and
// the other cryptographic operations are KMIP 1.2 operations; AES-GCM's tag
// travels in a KMIP 1.4 field).
import { PyResult, interopSuite, steps } from './harness';

const VERSIONS: Array<[string, string | null]> = [['1.2', null], ['1.4', '1.4'], ['2.0', '2.0']];
const runs = new Map<string, Promise<PyResult>>();

interopSuite(async (io) => {
  for (const [label, version] of VERSIONS) {
    const tenant = await io.stack.createTenant();
    const client = io.writeClient(`crypto-${label.replace(/\W/g, '')}`, tenant.client);
    const p = io.run('crypto.py', { client, version, prefix: `cr${label}` }, { timeoutMs: 90_000 });
    p.catch(() => undefined); // awaited by its describe block
    runs.set(label, p);
  }
});

describe.each(VERSIONS)('PyKMIP, KMIP %s', (label) => {
  let s: ReturnType<typeof steps>;
  const v2 = label === '2.0';

  beforeAll(async () => {
    const run = runs.get(label);
    if (!run) throw new Error('the interop stack did not start: see the error of the first hook');
    s = steps(await run);
  }, 120_000);

  test('AES-GCM from KMIP 1.4 on: python-cryptography decrypts it, keywarden decrypts python-cryptography\'s; refused before 1.4', () => {
    if (label === '1.2') {
      expect(s.get('gcm')).toMatchObject({ ok: false, message: expect.stringContaining('FEATURE_NOT_SUPPORTED') });
      return;
    }
    expect(s.ok('gcm')).toEqual({ nonceLen: 12, tagLen: 16, localDecrypts: true, serverDecrypts: true, serverDecryptsTheirs: true });
  });

  test('AES-CBC with PKCS#5 padding, with the client\'s IV or one the server makes', () => {
    expect(s.ok('cbc')).toEqual({ len: 48, ivReturnedWhenGiven: false, localDecrypts: true, serverDecrypts: true, serverIvLen: 16, serverIvRoundTrip: true });
  });

  test('RSA-OAEP (SHA-256) both ways', () => {
    expect(s.ok('rsaOaep')).toEqual({ localDecrypts: true, serverDecrypts: true });
  });

  test('RSA-PSS and PKCS#1 v1.5 signatures: each side verifies the other\'s', () => {
    expect(s.ok('rsaSignatures')).toEqual({ pssLocal: true, pssServer: 'VALID', pssServerTampered: 'INVALID', pkcs1Deterministic: true, pssTheirs: 'VALID' });
  });

  test('ECDSA P-256 with SHA-256: each side verifies the other\'s', () => {
    expect(s.ok('ecdsa')).toEqual({ local: true, server: 'VALID', serverOther: 'INVALID' });
  });

  test('HMAC-SHA-256 equals python\'s; MAC Verify says Valid and Invalid; RNG Retrieve', () => {
    expect(s.ok('mac')).toEqual({ uid: true, equal: true, verify: 'VALID', verifyWrong: 'INVALID' });
    expect(s.ok('rng')).toEqual([32, true]);
  });

  test('Derive Key: PBKDF2 and NIST SP 800-108 counter mode equal python-cryptography\'s', () => {
    expect(s.ok('derivePbkdf2')).toBe(true);
    expect(s.ok('deriveKbkdf')).toBe(true);
  });

  test('refusals: usage mask, state, size, object type, mode; a Deactivated key still decrypts', () => {
    expect(s.failed('macWithoutMask').reason).toBe(v2 ? 'INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK' : 'PERMISSION_DENIED');
    expect(s.failed('encryptWithHmacKey').reason).toBe(v2 ? 'BAD_CRYPTOGRAPHIC_PARAMETERS' : 'INVALID_FIELD');
    expect(s.failed('encryptPreActive').reason).toBe(v2 ? 'WRONG_KEY_LIFECYCLE_STATE' : 'PERMISSION_DENIED');
    expect(s.failed('encryptOversized')).toMatchObject({ reason: 'INVALID_FIELD', message: expect.stringContaining('at most 262144 bytes') });
    expect(s.failed('signWithPublicKey').reason).toBe(v2 ? 'ILLEGAL_OBJECT_TYPE' : 'ILLEGAL_OPERATION');
    expect(s.failed('encryptUnsupportedMode').reason).toBe(v2 ? 'UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS' : 'INVALID_FIELD');
    expect(s.failed('encryptDeactivated').reason).toBe(v2 ? 'WRONG_KEY_LIFECYCLE_STATE' : 'PERMISSION_DENIED');
    expect(s.ok('decryptDeactivated')).toBe(true);
  });
});
