import { X509Certificate } from 'crypto';
import { certFingerprint, normalizeFingerprint, peerFromCertificate } from '@keywarden/common';
import type { adminV1 } from '@keywarden/proto';
import type { Core } from '../core';
import { checkPasswordHash } from '../client-passwords';
import { adminError } from '../errors';
import type { CertificateRecord } from '../store/store';
import { requireTenant } from './tenants';

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ANY_EKU = '2.5.29.37.0';
const EKU_NAMES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth', [CLIENT_AUTH]: 'clientAuth', '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection', '1.3.6.1.5.5.7.3.8': 'timeStamping', '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
};
const MAX_PEM = 64 * 1024;

const dn = (s: string) => s.split('\n').filter(Boolean).join(', ');

export interface ParsedCertificate {
  fingerprint: string;
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  clientAuth: boolean;
  /** Accepted, but worth the operator's attention (never stored). */
  warnings: string[];
}

/** Signed by its own key (subject = issuer): a certificate made with `openssl req -x509`, as vCenter makes its own. */
function selfSigned(x: X509Certificate): boolean {
  try {
    return x.subject === x.issuer && x.checkIssued(x) && x.verify(x.publicKey);
  } catch {
    return false;
  }
}

/**
 * Reads a client certificate (PEM) and refuses what cannot work as a KMIP
 * client identity, saying why: a private key, a CA certificate, an expired
 * certificate, or an Extended Key Usage without clientAuth.
 */
export function parseClientCertificate(pem: string, now = Date.now()): ParsedCertificate {
  if (pem.length > MAX_PEM) throw adminError.invalid('the PEM is larger than 64 KiB');
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw adminError.invalid('this PEM contains a private key; send only the client certificate ("BEGIN CERTIFICATE") and keep the key secret');
  }
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw adminError.invalid('no PEM certificate found (expected "-----BEGIN CERTIFICATE-----")');
  let x: X509Certificate;
  try {
    x = new X509Certificate(m[0]);
  } catch (e) {
    throw adminError.invalid(`not a valid X.509 certificate: ${(e as Error).message}`);
  }
  // keywarden's own identities (services, operators) are not KMIP clients, and
  // a certificate that tries to name one is suspect wherever it came from.
  const peer = peerFromCertificate(x);
  if (peer.role || peer.refusal) {
    throw adminError.invalid(`"${dn(x.subject)}" ${peer.role ? `is keywarden's internal ${peer.role} identity` : `names a keywarden role (${peer.refusal})`}; it cannot be registered as a KMIP client`);
  }
  const warnings: string[] = [];
  if (x.ca) {
    // The common way to make a self-signed certificate (`openssl req -x509`) sets CA:TRUE, and so may
    // vCenter. keywarden pins a registered certificate by its fingerprint: it is that certificate and
    // nothing it might sign, so the flag grants nothing here. A CA that is not self-signed is an
    // intermediate: almost certainly the issuer of the client's certificate, registered by mistake.
    if (!selfSigned(x)) throw adminError.invalid(`"${dn(x.subject)}" is a CA certificate issued by "${dn(x.issuer)}"; register the client's own certificate, not its CA's`);
    warnings.push(
      `"${dn(x.subject)}" is self-signed with CA:TRUE. It is accepted because keywarden identifies a client by this exact certificate ` +
      '(its SHA-256 fingerprint): certificates it might sign are not trusted. In the gateway\'s "ca" trust mode a client certificate must chain to the KMIP CA instead.',
    );
  }
  const notAfter = new Date(x.validTo);
  if (notAfter.getTime() < now) throw adminError.invalid(`the certificate "${dn(x.subject)}" expired on ${notAfter.toISOString()}`);
  const eku = x.keyUsage as string[] | undefined;
  const clientAuth = !eku || eku.includes(CLIENT_AUTH) || eku.includes(ANY_EKU);
  if (!clientAuth) {
    const has = eku.map((o) => EKU_NAMES[o] ?? o).join(', ') || 'none';
    throw adminError.invalid(
      `the certificate's Extended Key Usage (${has}) lacks clientAuth (${CLIENT_AUTH}); KMIP clients such as vCenter authenticate with it. ` +
      'Reissue the certificate with clientAuth, or without an Extended Key Usage extension.',
    );
  }
  return {
    fingerprint: certFingerprint(x),
    subject: dn(x.subject),
    issuer: dn(x.issuer),
    notBefore: new Date(x.validFrom).toISOString(),
    notAfter: notAfter.toISOString(),
    clientAuth,
    warnings,
  };
}

export function certificateOut(c: CertificateRecord, warnings: string[] = []): adminV1.Certificate {
  return {
    fingerprint: c.fingerprint, tenantId: c.tenant, subject: c.subject, issuer: c.issuer,
    notBefore: c.notBefore, notAfter: c.notAfter, addedAt: c.addedAt, clientAuth: c.clientAuth, warnings,
    passwordSet: !!c.passwordHash,
  };
}

export async function addCertificate(core: Core, req: adminV1.AddCertificateRequest): Promise<adminV1.Certificate> {
  const t = await requireTenant(core, req.tenantId);
  const { warnings, ...p } = parseClientCertificate(req.pem);
  const passwordHash = req.passwordHash ? checkPasswordHash(req.passwordHash) : undefined;
  const rec: CertificateRecord = { ...p, tenant: t.id, addedAt: new Date().toISOString(), ...(passwordHash ? { passwordHash } : {}) };
  const r = await core.store.addCertificate(rec);
  if (r === 'SAME') {
    // A password is set on purpose, and ends the certificate's connections: not as a side effect of a repeated add.
    if (passwordHash) throw adminError.exists('this certificate is already registered to this tenant; set its password with SetCertificatePassword (keywarden cert set-password)');
    return certificateOut((await core.store.getCertificate(p.fingerprint)) ?? rec, warnings);
  }
  if (r.startsWith('OWNED:')) throw adminError.exists(`this certificate is already registered to tenant "${r.slice(6)}"; a certificate belongs to one tenant`);
  if (r === 'NOTENANT') throw adminError.notFound(`no tenant "${t.id}"`);
  return certificateOut(rec, warnings);
}

export async function listCertificates(core: Core, req: adminV1.ListCertificatesRequest): Promise<adminV1.ListCertificatesResponse> {
  const tenants = req.tenantId ? [(await requireTenant(core, req.tenantId)).id] : await core.store.tenantIds();
  const certificates: adminV1.Certificate[] = [];
  for (const t of tenants) {
    for (const fp of await core.store.certificateFingerprints(t)) {
      const c = await core.store.getCertificate(fp);
      if (c) certificates.push(certificateOut(c));
    }
  }
  return { certificates };
}

function fingerprintOf(s: string): string {
  try {
    return normalizeFingerprint(s);
  } catch (e) {
    throw adminError.invalid((e as Error).message);
  }
}

export async function removeCertificate(core: Core, req: adminV1.RemoveCertificateRequest): Promise<adminV1.RemoveCertificateResponse> {
  const fp = fingerprintOf(req.fingerprint);
  if (!(await core.store.removeCertificate(fp, 'certificate removed'))) throw adminError.notFound(`no certificate with fingerprint ${fp}`);
  return {};
}

/**
 * Sets or clears the certificate's password. Its open KMIP connections end at
 * once (a revocation, as for a removal): each reconnects and is checked
 * against the new setting, and the gateways forget the passwords they had
 * verified for it.
 */
export async function setCertificatePassword(core: Core, req: adminV1.SetCertificatePasswordRequest): Promise<adminV1.Certificate> {
  const fp = fingerprintOf(req.fingerprint);
  if (!!req.passwordHash === req.clear) throw adminError.invalid('give either a password hash or clear, not both or neither');
  const hash = req.clear ? undefined : checkPasswordHash(req.passwordHash);
  const reason = hash ? 'certificate password set' : 'certificate password cleared';
  if (!(await core.store.setCertificatePassword(fp, hash, reason))) throw adminError.notFound(`no certificate with fingerprint ${fp}`);
  const c = await core.store.getCertificate(fp);
  if (!c) throw adminError.notFound(`no certificate with fingerprint ${fp}`);
  return certificateOut(c);
}
