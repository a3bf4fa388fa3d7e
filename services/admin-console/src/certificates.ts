// A certificate as an operator uploads or pastes it: PEM text, or DER (sent
// by the page as base64). A private key is refused here, before it goes
// anywhere, and key-lifecycle checks the certificate itself.
import { createPrivateKey, X509Certificate } from 'crypto';
import { HttpError } from './http';

/** Largest certificate file accepted (key-lifecycle's limit too). */
export const MAX_CERTIFICATE = 64 * 1024;

const PRIVATE_KEY = 'this file holds a private key, not a certificate: never upload a private key; register the client\'s certificate only ("BEGIN CERTIFICATE")';

function isPrivateKeyDer(der: Buffer): boolean {
  for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
    try {
      createPrivateKey({ key: der, format: 'der', type });
      return true;
    } catch {
      // not this kind of key
    }
  }
  return false;
}

/** The PEM to register, from `pem` (text) or `der` (base64). */
export function certificatePem(pem: string, derBase64: string): string {
  if (pem) {
    if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(pem)) throw new HttpError(400, PRIVATE_KEY);
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new HttpError(400, 'no PEM certificate found (expected "-----BEGIN CERTIFICATE-----")');
    return pem;
  }
  if (!derBase64) throw new HttpError(400, 'give the certificate as PEM text or a DER file');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(derBase64)) throw new HttpError(400, 'der must be base64');
  const der = Buffer.from(derBase64, 'base64');
  if (der.length > MAX_CERTIFICATE) throw new HttpError(413, 'the file is larger than 64 KiB: not a certificate');
  try {
    return new X509Certificate(der).toString();
  } catch {
    if (isPrivateKeyDer(der)) throw new HttpError(400, PRIVATE_KEY);
    throw new HttpError(400, 'the file is neither a PEM ("-----BEGIN CERTIFICATE-----") nor a DER X.509 certificate');
  }
}
