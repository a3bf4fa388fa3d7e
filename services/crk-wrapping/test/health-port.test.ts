// The plaintext health port (HEALTH_ADDR) for probes that cannot present a
// client certificate: the same health service as on the mTLS port.
import { randomBytes } from 'crypto';
import { checkHealth, createCa, grpc, issueCertificate } from '@keywarden/common';
import { startCrkWrapping } from '@keywarden/crk-wrapping';

it('serves grpc.health.v1 in plaintext on its own port, SERVING while up, and nothing else there', async () => {
  const ca = createCa('health test CA');
  const server = issueCertificate(ca, { commonName: 'crk-wrapping', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const tls = { ca: Buffer.from(ca.cert), cert: Buffer.from(server.cert), key: Buffer.from(server.key) };
  const svc = await startCrkWrapping({ address: '127.0.0.1:0', tls, masterKey: randomBytes(32), healthAddress: '127.0.0.1:0' });
  const insecure = grpc.credentials.createInsecure();
  const at = `127.0.0.1:${svc.healthPort}`;
  try {
    expect(svc.healthPort).toBeGreaterThan(0);
    expect(svc.healthPort).not.toBe(svc.port);
    expect(await checkHealth(at, insecure)).toBe('SERVING');
    expect(await checkHealth(at, insecure, 'keywarden.wrapping.v1.CrkWrapping')).toBe('SERVING');
    await expect(checkHealth(at, insecure, 'keywarden.wrapping.v1.Nothing')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    // The main port still wants a client certificate.
    await expect(checkHealth(`127.0.0.1:${svc.port}`, insecure, '', 1_000)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  } finally {
    await svc.close();
  }
  await expect(checkHealth(at, insecure, '', 1_000)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
});
