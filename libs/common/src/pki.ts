import { generateKeyPairSync, randomBytes } from 'crypto';
import fs from 'fs';
import path from 'path';
import forge from 'node-forge';
import { Role, roleUri } from './peer';

// Development and test PKI: a CA, server and client certificates with the
// Extended Key Usage each role needs (vCenter rejects a server certificate
// without serverAuth; servers should reject clients without clientAuth).

export interface Issued {
  cert: string; // PEM
  key: string; // PEM (PKCS#8)
}

export type Usage = 'server' | 'client' | 'both' | 'ca';

export interface IssueOptions {
  commonName: string;
  usage: Usage;
  dnsNames?: string[];
  ipAddresses?: string[];
  /** URI subject alternative names, e.g. a keywarden role (peer.ts roleUri). */
  uris?: string[];
  days?: number;
  /** Backdate notBefore (seconds) to tolerate clock skew. */
  backdateSeconds?: number;
  /** Explicit validity, for expired/not-yet-valid test certificates. */
  notBefore?: Date;
  notAfter?: Date;
  organization?: string;
}

function newRsaKey(bits = 2048): { publicKey: forge.pki.rsa.PublicKey; privateKey: forge.pki.rsa.PrivateKey; keyPem: string } {
  // Node's native generator is fast; forge's pure-JS one takes seconds.
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return {
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
    privateKey: forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()),
    keyPem,
  };
}

function serial(): string {
  const b = randomBytes(16);
  b[0] &= 0x7f; // positive
  return b.toString('hex');
}

function extensions(o: IssueOptions): object[] {
  const ext: object[] = [];
  if (o.usage === 'ca') {
    ext.push({ name: 'basicConstraints', cA: true, critical: true });
    ext.push({ name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true });
  } else {
    ext.push({ name: 'basicConstraints', cA: false });
    ext.push({ name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true });
    ext.push({
      name: 'extKeyUsage',
      serverAuth: o.usage === 'server' || o.usage === 'both',
      clientAuth: o.usage === 'client' || o.usage === 'both',
    });
  }
  const alt = [
    ...(o.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(o.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
    ...(o.uris ?? []).map((value) => ({ type: 6, value })),
  ];
  if (alt.length) ext.push({ name: 'subjectAltName', altNames: alt });
  ext.push({ name: 'subjectKeyIdentifier' });
  return ext;
}

function build(o: IssueOptions, publicKey: forge.pki.PublicKey, issuer: { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey } | undefined, selfKey: forge.pki.rsa.PrivateKey): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serial();
  const now = Date.now();
  cert.validity.notBefore = o.notBefore ?? new Date(now - (o.backdateSeconds ?? 300) * 1000);
  cert.validity.notAfter = o.notAfter ?? new Date(now + (o.days ?? 825) * 86400_000);
  const subject = [{ name: 'commonName', value: o.commonName }];
  if (o.organization) subject.push({ name: 'organizationName', value: o.organization });
  cert.setSubject(subject);
  cert.setIssuer(issuer ? issuer.cert.subject.attributes : subject);
  const ext = extensions(o);
  if (issuer) ext.push({ name: 'authorityKeyIdentifier', keyIdentifier: issuer.cert.generateSubjectKeyIdentifier().getBytes() });
  cert.setExtensions(ext);
  cert.sign(issuer ? issuer.key : selfKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

export function createCa(commonName = 'keywarden development CA', days = 3650): Issued {
  const k = newRsaKey();
  return { cert: build({ commonName, usage: 'ca', days, organization: 'keywarden' }, k.publicKey, undefined, k.privateKey), key: k.keyPem };
}

function loadIssuer(ca: Issued) {
  return { cert: forge.pki.certificateFromPem(ca.cert), key: forge.pki.privateKeyFromPem(ca.key) };
}

/** Issues a new key pair and a certificate signed by `ca` (or self-signed when ca is null). */
export function issueCertificate(ca: Issued | null, o: IssueOptions): Issued {
  const k = newRsaKey();
  const cert = build(o, k.publicKey, ca ? loadIssuer(ca) : undefined, k.privateKey);
  return { cert, key: k.keyPem };
}

/** Signs a PEM CSR (as vCenter generates) with the CA, for client use. Returns the certificate PEM. */
export function signCsr(ca: Issued, csrPem: string, o: Omit<IssueOptions, 'commonName'> & { commonName?: string }): string {
  const csr = forge.pki.certificationRequestFromPem(csrPem);
  if (!csr.verify()) throw new Error('the CSR signature does not verify');
  const cn = o.commonName ?? String(csr.subject.getField('CN')?.value ?? 'vcenter');
  return build({ ...o, commonName: cn }, csr.publicKey as forge.pki.PublicKey, loadIssuer(ca), forge.pki.privateKeyFromPem(ca.key));
}

/** Makes a CSR (used by tests to play vCenter's "CSR" trust option). */
export function createCsr(commonName: string): { csr: string; key: string } {
  const k = newRsaKey();
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = k.publicKey;
  csr.setSubject([{ name: 'commonName', value: commonName }]);
  csr.sign(k.privateKey, forge.md.sha256.create());
  return { csr: forge.pki.certificationRequestToPem(csr), key: k.keyPem };
}

export interface DevPki {
  dir: string;
  /**
   * The KMIP CA: the CA vCenter sees. It signs the KMIP server certificate
   * (vCenter trusts it through `vcenter export-ca`) and KMIP client
   * certificates (`vcenter sign-csr`, `vcenter issue-client`); the gateway's
   * `ca` trust mode trusts it for clients. In `dir`: ca.crt, ca.key.
   */
  ca: Issued;
  /**
   * The internal CA, in `internalDir` (ca.crt, ca.key): it signs the
   * services' and operators' certificates, each naming its role, and is the
   * only CA the gRPC servers trust.
   */
  internalDir: string;
  internalCa: Issued;
  /** True when this call moved an older single-CA directory to the two-CA layout. */
  migrated: boolean;
}

/** Writes a PEM pair as <name>.crt / <name>.key (key mode 0600). */
export function writeIssued(dir: string, name: string, issued: Issued): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(dir, `${name}.crt`), issued.cert);
  fs.writeFileSync(path.join(dir, `${name}.key`), issued.key, { mode: 0o600 });
}

function loadOrCreateCa(dir: string, commonName: string): { ca: Issued; created: boolean } {
  if (fs.existsSync(path.join(dir, 'ca.crt'))) {
    return { ca: { cert: fs.readFileSync(path.join(dir, 'ca.crt'), 'utf8'), key: fs.readFileSync(path.join(dir, 'ca.key'), 'utf8') }, created: false };
  }
  const ca = createCa(commonName);
  writeIssued(dir, 'ca', ca);
  return { ca, created: true };
}

/** The internal identities of a stack: file name, role and certificate options. */
export const INTERNAL_IDENTITIES: ReadonlyArray<{ name: string; role: Role; roleName?: string; usage: Usage }> = [
  { name: 'kmip-gateway', role: 'kmip-gateway', usage: 'client' },
  { name: 'key-lifecycle', role: 'key-lifecycle', usage: 'both' },
  { name: 'crk-wrapping', role: 'crk-wrapping', usage: 'both' },
  { name: 'admin', role: 'operator', roleName: 'admin', usage: 'client' },
  // The admin console acts for the person signed in to it (docs/console.md).
  { name: 'console', role: 'operator', roleName: 'console', usage: 'client' },
];

/** Options for an internal certificate of `role` (services answer on localhost too). */
export function internalIdentity(role: Role, o: { commonName?: string; roleName?: string; usage?: Usage; dnsNames?: string[] } = {}): IssueOptions {
  return {
    commonName: o.commonName ?? (o.roleName ? `${role}-${o.roleName}` : role),
    usage: o.usage ?? 'both',
    organization: 'keywarden internal',
    uris: [roleUri(role, o.roleName)],
    dnsNames: o.dnsNames ?? [role, 'localhost'],
    ipAddresses: ['127.0.0.1', '::1'],
  };
}

/**
 * Creates (once) the development PKI: in `dir` the KMIP CA, server.crt
 * (localhost, 127.0.0.1, ::1), client.crt for a test vCenter and
 * console-server.crt (the admin console's HTTPS, localhost); in
 * `dir/internal` the internal CA and one certificate per internal identity
 * (INTERNAL_IDENTITIES). Existing files are kept, so restarts keep identities.
 *
 * A directory from before the two CAs (one CA that also signed the service
 * and admin certificates) is migrated: its CA stays the KMIP CA, so vCenter's
 * trust and every registered client certificate keep working, and the
 * service and admin certificates it signed are replaced by ones from a new
 * internal CA (the old ones are deleted: they would name no role anyway).
 */
export function ensureDevPki(dir: string): DevPki {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { ca } = loadOrCreateCa(dir, 'keywarden KMIP CA (development)');
  const internalDir = path.join(dir, 'internal');
  const { ca: internalCa, created } = loadOrCreateCa(internalDir, 'keywarden internal CA (development)');
  let migrated = false;
  if (created) {
    for (const id of INTERNAL_IDENTITIES) {
      for (const ext of ['crt', 'key']) {
        const old = path.join(dir, `${id.name}.${ext}`);
        if (fs.existsSync(old)) {
          fs.rmSync(old);
          migrated = true;
        }
      }
    }
  }
  const kmip: Array<[string, IssueOptions]> = [
    ['server', { commonName: 'localhost', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] }],
    ['client', { commonName: 'vcenter-dev', usage: 'client', organization: 'keywarden dev' }],
    // The admin console's HTTPS certificate: signed by the KMIP CA, the one people and vCenter
    // already trust, which no gRPC server trusts; docs/console.md says why.
    ['console-server', { commonName: 'localhost', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] }],
  ];
  for (const [name, o] of kmip) {
    if (!fs.existsSync(path.join(dir, `${name}.crt`))) writeIssued(dir, name, issueCertificate(ca, o));
  }
  for (const id of INTERNAL_IDENTITIES) {
    if (!fs.existsSync(path.join(internalDir, `${id.name}.crt`))) {
      writeIssued(internalDir, id.name, issueCertificate(internalCa, internalIdentity(id.role, { roleName: id.roleName, usage: id.usage, commonName: id.name })));
    }
  }
  return { dir, ca, internalDir, internalCa, migrated };
}
