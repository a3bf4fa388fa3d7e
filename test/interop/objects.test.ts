// Key pairs, certificates, opaque objects, Storage Status Mask and key
// wrapping through the gateway, driven by PyKMIP (py/objects.py) over real
// mTLS against the full stack, checked with python-cryptography, in KMIP 1.2
// (PyKMIP's default) and 2.0.
import { X509Certificate } from 'crypto';
import { createCa, issueCertificate } from '@keywarden/common';
import { PyResult, interopSuite, steps } from './harness';

const VERSIONS: Array<[string, string | null]> = [['1.2', null], ['2.0', '2.0']];
const runs = new Map<string, Promise<PyResult>>();

interopSuite(async (io) => {
  const cert = new X509Certificate(issueCertificate(createCa('interop objects CA'), { commonName: 'interop-object', usage: 'client' }).cert).raw;
  for (const [label, version] of VERSIONS) {
    const tenant = await io.stack.createTenant();
    const client = io.writeClient(`objects-${label.replace(/\W/g, '')}`, tenant.client);
    const p = io.run('objects.py', { client, version, prefix: `obj${label}`, certificateDer: cert.toString('hex') }, { timeoutMs: 90_000 });
    p.catch(() => undefined); // awaited by its describe block
    runs.set(label, p);
  }
});

describe.each(VERSIONS)('PyKMIP, KMIP %s', (label) => {
  let s: ReturnType<typeof steps>;
  let uids: Record<string, unknown>;

  beforeAll(async () => {
    const run = runs.get(label);
    if (!run) throw new Error('the interop stack did not start: see the error of the first hook');
    const r = await run;
    s = steps(r);
    uids = r.out.uids;
  }, 120_000);

  test('Create Key Pair: an RSA-2048 pair PyKMIP reads, halves that belong together', () => {
    expect(s.ok('getRsaPublic')).toMatchObject({ objectType: 'PUBLIC_KEY', cryptographic_algorithm: 'RSA', cryptographic_length: 2048, key_format_type: 'PKCS_1' });
    expect(s.ok('getRsaPrivate')).toMatchObject({ objectType: 'PRIVATE_KEY', cryptographic_algorithm: 'RSA', cryptographic_length: 2048, key_format_type: 'PKCS_1' });
    expect(s.ok('rsaHalvesMatch')).toBe(true);
  });

  test('Get in the asked format: PKCS#8 and X.509 of the same key; a public format of a private key is refused', () => {
    const f = s.ok('rsaFormats');
    expect(f.privPkcs8).toMatchObject({ status: 'SUCCESS', format: 'PKCS_8' });
    expect(f.pubX509).toMatchObject({ status: 'SUCCESS', format: 'X_509' });
    expect(f.privPkcs8.value).toEqual(f.pubX509.value);
    expect(f.privX509).toEqual({ status: 'OPERATION_FAILED', reason: 'KEY_FORMAT_TYPE_NOT_SUPPORTED' });
  });

  test('an EC P-384 pair; RSA-1024 is refused', () => {
    expect(s.ok('getEcPrivate')).toEqual([expect.objectContaining({ objectType: 'PRIVATE_KEY', cryptographic_algorithm: 'ECDSA', cryptographic_length: 384, key_format_type: 'PKCS_8' }), 'secp384r1']);
    expect(s.ok('ecHalvesMatch')).toBe(true);
    expect(s.failed('createKeyPairRsa1024').reason).toBe('INVALID_FIELD');
  });

  test('Register of private and public keys gives back the same bytes; malformed keys are refused', () => {
    const [priv, sent] = s.ok('getRegisteredPrivate');
    expect(priv).toMatchObject({ objectType: 'PRIVATE_KEY', key_format_type: 'PKCS_8', cryptographic_length: 3072, sha256: sent });
    const [pub, sentPub] = s.ok('getRegisteredPublic');
    expect(pub).toMatchObject({ objectType: 'PUBLIC_KEY', key_format_type: 'X_509', sha256: sentPub });
    expect(s.ok('registerEcPrivate')).toMatchObject({ objectType: 'PRIVATE_KEY', cryptographic_algorithm: 'ECDSA', cryptographic_length: 256 });
    expect(s.failed('registerMalformedPrivate').reason).toBe('INVALID_FIELD');
  });

  test('an X.509 certificate and an opaque object come back byte for byte; a malformed certificate is refused', () => {
    const [cert, sent, subject] = s.ok('getCertificate');
    expect(cert).toMatchObject({ objectType: 'CERTIFICATE', certificate_type: 'X_509', sha256: sent });
    expect(subject).toBe('CN=interop-object');
    expect(s.failed('registerMalformedCertificate').reason).toBe('INVALID_FIELD');
    const [opaque, sentOpaque] = s.ok('getOpaque');
    expect(opaque).toMatchObject({ objectType: 'OPAQUE_DATA', sha256: sentOpaque });
  });

  test('Locate by Object Type; Query Objects names every type stored; destroyed objects only with Destroyed Storage', () => {
    expect(s.ok('locatePublicKeys')).toEqual([...[(uids.rsa as string[])[0], (uids.ec as string[])[0], uids.registeredPublic]].sort());
    expect(s.ok('locateCertificates')).toEqual([uids.certificate]);
    expect(s.ok('queryObjects')).toEqual(['CERTIFICATE', 'OPAQUE_DATA', 'PRIVATE_KEY', 'PUBLIC_KEY', 'SECRET_DATA', 'SYMMETRIC_KEY']);
    const online: string[] = s.ok('locateOnline');
    expect(online).not.toContain(uids.opaque);
    expect(online).toContain(uids.certificate);
    expect(s.ok('locateDestroyed')).toEqual([uids.opaque]);
    expect(s.ok('locateBoth')).toEqual([...online, uids.opaque].sort());
  });

  test('Get with a Key Wrapping Specification (NIST Key Wrap, No Encoding): python-cryptography unwraps it to the key', () => {
    expect(s.ok('getWrapped')).toEqual({
      wrappedLen: 24, unwrapsToKey: true,
      wrappingData: { wrapping_method: 'ENCRYPT', encoding_option: 'NO_ENCODING', encryption_key_information: uids.kek },
    });
    expect(s.failed('getWrappedByNoWrapKey').reason).toBe(label === '2.0' ? 'INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK' : 'PERMISSION_DENIED');
    expect(s.failed('getWrappedByMissingKey').reason).toBe(label === '2.0' ? 'WRAPPING_OBJECT_NOT_FOUND' : 'CRYPTOGRAPHIC_FAILURE');
  });

  test('Register of wrapped material stores the unwrapped key; a bad wrapping stores nothing', () => {
    expect(s.ok('registerWrapped')).toEqual({ sameKey: true });
    expect(s.failed('registerBadlyWrapped').reason).toBe('CRYPTOGRAPHIC_FAILURE');
    expect(s.ok('locateWrappedBad')).toEqual([]);
  });
});
