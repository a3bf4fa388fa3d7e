import { createHash, X509Certificate } from 'crypto';
import fs from 'fs';
import path from 'path';

/** SHA-256 of a certificate's DER encoding, lower-case hex: keywarden's client identity. */
export function certFingerprint(cert: Buffer | string | X509Certificate): string {
  const der = cert instanceof X509Certificate ? cert.raw
    : typeof cert === 'string' ? new X509Certificate(cert).raw
    : cert;
  return createHash('sha256').update(der).digest('hex');
}

/** Accepts "AB:CD:..", "abcd..", any case; returns lower-case hex or throws. */
export function normalizeFingerprint(fp: string): string {
  const hex = fp.replace(/[:\s]/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error('a fingerprint is 64 hex digits (SHA-256), optionally colon-separated');
  return hex;
}

export interface TlsFiles {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/**
 * Reads ca.crt plus <name>.crt and <name>.key from a directory (the layout the
 * dev PKI writes and Kubernetes secrets mount).
 */
export function loadTlsFiles(dir: string, name: string): TlsFiles {
  const read = (f: string) => {
    const p = path.join(dir, f);
    try {
      return fs.readFileSync(p);
    } catch (e) {
      throw new Error(`cannot read ${p}: ${(e as Error).message}`);
    }
  };
  return { ca: read('ca.crt'), cert: read(`${name}.crt`), key: read(`${name}.key`) };
}
