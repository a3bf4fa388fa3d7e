// Client certificate checks of AddCertificate: what a KMIP client identity needs.
import forge from 'node-forge';
import { certFingerprint, createCa, issueCertificate } from '@keywarden/common';
import { parseClientCertificate } from '../src/admin/certificates';

/** A self-signed certificate without any Extended Key Usage extension. */
function withoutEku(): string {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 1024, e: 0x10001 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  const name = [{ name: 'commonName', value: 'legacy-vcenter' }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([{ name: 'basicConstraints', cA: false }]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

it('accepts a certificate with clientAuth, or with no Extended Key Usage at all', () => {
  const ca = createCa();
  const c = issueCertificate(ca, { commonName: 'vcenter', usage: 'both' });
  expect(parseClientCertificate(c.cert)).toMatchObject({ fingerprint: certFingerprint(c.cert), subject: 'CN=vcenter', clientAuth: true });
  const legacy = withoutEku();
  expect(parseClientCertificate(legacy)).toMatchObject({ subject: 'CN=legacy-vcenter', issuer: 'CN=legacy-vcenter', clientAuth: true });
});

it('takes the first certificate of a chain', () => {
  const ca = createCa();
  const c = issueCertificate(ca, { commonName: 'leaf', usage: 'client' });
  expect(parseClientCertificate(`${c.cert}\n${ca.cert}`).fingerprint).toBe(certFingerprint(c.cert));
});

it('refuses a certificate valid only for servers, naming what it has', () => {
  const ca = createCa();
  const s = issueCertificate(ca, { commonName: 'kms', usage: 'server' });
  expect(() => parseClientCertificate(s.cert)).toThrow(/Extended Key Usage \(serverAuth\) lacks clientAuth \(1\.3\.6\.1\.5\.5\.7\.3\.2\)/);
});
