import { X509Certificate } from 'crypto';
import tls from 'tls';
import { AddressInfo } from 'net';
import * as grpc from '@grpc/grpc-js';
import {
  addHealth, bindServer, certFingerprint, channelCredentials, checkHealth, createCa, createCsr, issueCertificate,
  normalizeFingerprint, serverCredentials, shutdownServer, signCsr,
} from '@keywarden/common';

const ca = createCa('test CA');
const server = issueCertificate(ca, { commonName: 'localhost', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
const client = issueCertificate(ca, { commonName: 'client', usage: 'client' });

describe('dev PKI', () => {
  test('server certificate carries serverAuth EKU and localhost SANs, signed by the CA', () => {
    const x = new X509Certificate(server.cert);
    expect(x.checkIssued(new X509Certificate(ca.cert))).toBe(true);
    expect(x.subjectAltName).toContain('DNS:localhost');
    expect(x.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(x.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(new X509Certificate(client.cert).keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
  });

  test('a CSR signed by the CA keeps the requester public key', () => {
    const { csr, key } = createCsr('vcenter.example');
    const pem = signCsr(ca, csr, { usage: 'client' });
    const x = new X509Certificate(pem);
    expect(x.subject).toContain('CN=vcenter.example');
    expect(x.checkPrivateKey(require('crypto').createPrivateKey(key))).toBe(true);
  });

  test('fingerprint is SHA-256 of DER and matches Node own colon form', () => {
    const x = new X509Certificate(client.cert);
    expect(certFingerprint(client.cert)).toBe(normalizeFingerprint(x.fingerprint256));
    expect(() => normalizeFingerprint('abc')).toThrow(/64 hex digits/);
  });

  test('mTLS handshake with the issued pair presents the client certificate', async () => {
    const srv = tls.createServer({ cert: server.cert, key: server.key, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (s) => {
      s.end(certFingerprint(s.getPeerCertificate().raw));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    const got = await new Promise<string>((resolve, reject) => {
      const s = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: ca.cert, cert: client.cert, key: client.key }, () => undefined);
      let data = '';
      s.on('data', (d) => (data += d));
      s.on('end', () => resolve(data));
      s.on('error', reject);
    });
    srv.close();
    expect(got).toBe(certFingerprint(client.cert));
  });
});

describe('gRPC helpers', () => {
  test('health over mTLS answers SERVING, and a client without a certificate is refused', async () => {
    const both = issueCertificate(ca, { commonName: 'svc', usage: 'both', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    const files = { ca: Buffer.from(ca.cert), cert: Buffer.from(both.cert), key: Buffer.from(both.key) };
    const s = new grpc.Server();
    addHealth(s);
    const port = await bindServer(s, '127.0.0.1:0', serverCredentials(files));
    try {
      await expect(checkHealth(`localhost:${port}`, channelCredentials(files))).resolves.toBe('SERVING');
      const noCert = grpc.credentials.createSsl(Buffer.from(ca.cert));
      await expect(checkHealth(`localhost:${port}`, noCert, '', 1000)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    } finally {
      await shutdownServer(s);
    }
  });
});
