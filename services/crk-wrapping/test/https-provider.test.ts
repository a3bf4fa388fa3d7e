// Key Protect over HTTPS with a provider CA of the operator's (WRAPPING_PROVIDER_CA_FILE):
// the emulator serves TLS with a certificate from a private CA; crk-wrapping
// trusts it only when that CA is configured.
import { randomBytes, randomUUID } from 'crypto';
import { createCa, issueCertificate, prom } from '@keywarden/common';
import { Emulator, startEmulator } from '@keywarden/keyprotect-emulator';
import { DEFAULT_RESILIENCE } from '../src/config';
import { WrappingMetrics } from '../src/metrics';
import { DEFAULT_PKCS11_MODULES, ProviderRegistry } from '../src/providers/registry';
import { TEST_RESILIENCE, ctx, kpProvider, log, newInstance } from './helpers';

const API_KEY = 'https-test-key';
const ca = createCa('provider test CA');
const cert = issueCertificate(ca, { commonName: 'localhost', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
let emu: Emulator;

function providers(providerCa?: Buffer): ProviderRegistry {
  return new ProviderRegistry({
    resilience: { ...DEFAULT_RESILIENCE, ...TEST_RESILIENCE }, log, metrics: new WrappingMetrics(new prom.Registry()),
    allowHttp: false, providerHosts: [`localhost:${new URL(emu.url).port}`], providerCa, pkcs11Modules: DEFAULT_PKCS11_MODULES, pkcs11Sessions: 1,
  });
}

beforeAll(async () => {
  emu = await startEmulator({ apiKeys: [API_KEY], tls: { cert: cert.cert, key: cert.key } });
  expect(emu.url.startsWith('https://')).toBe(true);
});
afterAll(async () => { await emu.close(); });

it('seals and unseals over HTTPS when the provider CA is configured', async () => {
  const reg = providers(Buffer.from(ca.cert));
  try {
    const p = reg.get(kpProvider(emu.url.replace('127.0.0.1', 'localhost'), newInstance(emu)));
    const crk = (await p.createRootKey(ctx('', API_KEY), 'https-crk')).crkId;
    const k = { tenantId: 't', uid: randomUUID() };
    const kek = randomBytes(32);
    const sealed = await p.seal(ctx(crk, API_KEY), k, kek);
    // Many calls reuse the one TLS context (no per-request trust store rebuild).
    for (let i = 0; i < 20; i++) expect((await p.unseal(ctx(crk, API_KEY), k, sealed.ref)).plaintext.equals(kek)).toBe(true);
  } finally {
    reg.close();
  }
});

it('refuses the provider when its certificate does not chain to a trusted CA', async () => {
  const reg = providers(undefined);
  try {
    const p = reg.get(kpProvider(emu.url.replace('127.0.0.1', 'localhost'), newInstance(emu)));
    const err = await p.createRootKey(ctx('', API_KEY, 2_000), 'untrusted').then(() => undefined, (e: Error) => e);
    // The TLS verification failure is named, so an operator sees the missing CA.
    expect(String(err?.message)).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
  } finally {
    reg.close();
  }
});
