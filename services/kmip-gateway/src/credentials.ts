// The KMIP Credential of a request, for a client certificate that has a
// password (docs/kmip-gateway.md, "Client passwords"). vCenter, given a
// username and password for a KMS, sends a Credential of type Username and
// Password in every request header (KMIP 1.4 §2.1.2, §6.6). When the
// certificate has a password, every request must carry it; when it has none,
// a Credential is accepted and ignored, as before. The username is not
// checked: vCenter sends whatever its administrator typed, and the client is
// its certificate.
//
// Checking costs scrypt in key-lifecycle (~0.3 s), so it happens once per
// connection and password: a connection keeps an HMAC (under a key of this
// process, never stored) of the password it had verified and compares each
// later request's in microseconds. New connections with a password already
// verified are answered by the identity cache (identities.ts), so a thousand
// hosts reconnecting with one certificate and password cost one check.
import { createHmac, randomBytes, timingSafeEqual } from 'crypto';
import { MAX_PASSWORD_LENGTH } from '@keywarden/common';
import type { Logger } from '@keywarden/common';
import { CredentialType, ENUM_INFO, ItemType, ResultReason, Tag, TtlvNode } from '@keywarden/kmip';
import type { LifecycleBackend } from './backend';
import { logItemFailure, toItemResult } from './errors';

/** Why a request is refused: its Result Reason and the text the client reads. */
export interface CredentialRefusal {
  reason: number;
  message: string;
}

/** One connection's check of the requests' Credential (see above). */
export interface CredentialCheck {
  /** Undefined when the request may proceed. Never throws. */
  check(authentication: TtlvNode | undefined): Promise<CredentialRefusal | undefined>;
}

/** Key of this process for the password HMACs: they mean nothing outside it and after it. */
const HMAC_KEY = randomBytes(32);

/** What a verified password is remembered by: HMAC-SHA256 of the certificate and the password (NFC, as scrypt hashes it). */
export function passwordDigest(fingerprint: string, password: string): Buffer {
  return createHmac('sha256', HMAC_KEY).update(fingerprint).update('\0').update(password.normalize('NFC')).digest();
}

function child(n: TtlvNode, tag: number): TtlvNode | undefined {
  return n.type === ItemType.Structure ? n.value.find((c) => c.tag === tag) : undefined;
}

function credentialTypeName(t: TtlvNode | undefined): string {
  if (t?.type !== ItemType.Enumeration) return 'no valid Credential Type';
  return ENUM_INFO.get('CredentialType')?.values.find((v) => v.value === t.value)?.specName ?? `Credential Type 0x${t.value.toString(16).padStart(8, '0')}`;
}

/**
 * The password of the request header's Username and Password credential (the
 * first, when the Authentication holds several Credentials), or what is
 * missing, in words for the client.
 */
export function credentialPassword(authentication: TtlvNode | undefined): { password: string } | { missing: string } {
  if (!authentication) return { missing: 'the request has no Authentication' };
  if (authentication.type !== ItemType.Structure) return { missing: 'the request\'s Authentication is not a structure' };
  const credentials = authentication.value.filter((c) => c.tag === Tag.Credential);
  if (credentials.length === 0) return { missing: 'the request\'s Authentication holds no Credential' };
  const userPassword = credentials.find((c) => {
    const t = child(c, Tag.CredentialType);
    return t?.type === ItemType.Enumeration && t.value === CredentialType.UsernameAndPassword;
  });
  if (!userPassword) return { missing: `the request's Credential is of type ${credentialTypeName(child(credentials[0], Tag.CredentialType))}, not Username and Password` };
  const value = child(userPassword, Tag.CredentialValue);
  const password = value ? child(value, Tag.Password) : undefined;
  if (password?.type !== ItemType.TextString || password.value === '') return { missing: 'the request\'s Username and Password credential has no Password' };
  // Refused before anything is computed from it: no password that long can be set.
  if (password.value.length > MAX_PASSWORD_LENGTH) return { missing: `the Credential's Password is longer than ${MAX_PASSWORD_LENGTH} characters` };
  return { password: password.value };
}

export interface PasswordCheckOptions {
  fingerprint: string;
  /** Identify with a password: key-lifecycle checks it (through the identity cache, in production). */
  backend: Pick<LifecycleBackend, 'identify'>;
  log: Logger;
}

/**
 * The check of one connection of a certificate that has a password. The
 * first request with a given password asks key-lifecycle; the following ones
 * with the same password are compared with the HMAC kept here.
 */
export function passwordCheck(o: PasswordCheckOptions): CredentialCheck {
  let verified: Buffer | undefined;
  return {
    async check(authentication) {
      const p = credentialPassword(authentication);
      if ('missing' in p) {
        o.log.warn({ fingerprint: o.fingerprint }, 'refused a request without the password its client certificate requires');
        return {
          reason: ResultReason.AuthenticationNotSuccessful,
          message: `this client certificate requires a password: send a KMIP Credential of type Username and Password (in vCenter, the key provider's KMS password); ${p.missing}`,
        };
      }
      const digest = passwordDigest(o.fingerprint, p.password);
      if (verified && timingSafeEqual(verified, digest)) return undefined;
      try {
        await o.backend.identify({ caller: { certFingerprint: o.fingerprint }, password: p.password });
        verified = digest;
        return undefined;
      } catch (e) {
        const r = toItemResult(e);
        if (r.unexpected) logItemFailure(o.log, r, e, { fingerprint: o.fingerprint }, 'could not check a client password');
        else if (r.resultReason === ResultReason.AuthenticationNotSuccessful) o.log.warn({ fingerprint: o.fingerprint }, 'refused a wrong client password');
        return { reason: r.resultReason, message: r.resultMessage };
      }
    },
  };
}
