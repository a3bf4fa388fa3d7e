// KMIP 1.4 §4.6 Derive Key (errors: §11.7): a new Symmetric Key or Secret
// Data from one base object of the tenant (Active, Derive Key in its usage
// mask) by PBKDF2, NIST SP 800-108 counter mode or (KMIP 2.1) HKDF
// (crypto/derivation.ts). The new object is sealed like any key; it links to
// its base (Derivation Base Object Link) and the base to it (Derived Key
// Link, §3.35).
import { randomUUID } from 'crypto';
import type { lifecycleV1 } from '@keywarden/proto';
import { DerivationMethod as DM, HashingAlgorithm as H, LinkType, ObjectType, SecretDataType } from '@keywarden/kmip';
import type { Core, OpContext } from '../core';
import { badCryptographicParameters, invalidField, unsupportedCryptographicParameters } from '../errors';
import { addAttribute } from '../model/attributes';
import { nowSeconds } from '../model/record';
import { USES } from '../model/usage';
import { applyTemplate, checkSymmetric, DEFAULT_USAGE_MASK, newRecord, sealAndStore } from './common';
import { link } from './objects';
import { hkdfDerive, kdfCounter, MAX_DERIVED_BYTES, pbkdf2Derive } from './crypto/derivation';
import { loadForUse, secretBytes } from './crypto/keyring';
import { paramsOf } from './crypto/params';

export async function deriveKey(core: Core, c: OpContext, req: lifecycleV1.DeriveKeyRequest): Promise<lifecycleV1.DeriveKeyResponse> {
  if (req.uniqueIdentifiers.length !== 1) throw invalidField(`Derive Key takes one base object, not ${req.uniqueIdentifiers.length}`);
  const base = await loadForUse(core, c, req.caller, req.uniqueIdentifiers[0], USES.derive);
  if (req.objectType !== ObjectType.SymmetricKey && req.objectType !== ObjectType.SecretData) {
    throw invalidField(`Derive Key makes Symmetric Keys (2) or Secret Data (7), not object type ${req.objectType}`);
  }
  const now = nowSeconds();
  const uid = randomUUID();
  c.uid = uid;
  const rec = newRecord(uid, base.tenant.id, c.fingerprint, req.objectType, req.objectType === ObjectType.SecretData ? 2 : 1, now);
  rec.originalCreationDate = now;
  const given = applyTemplate(rec, req.attributes, now);
  if (rec.length === undefined || rec.length % 8 !== 0 || rec.length < 8 || rec.length > MAX_DERIVED_BYTES * 8) {
    throw invalidField(`the derived object needs a Cryptographic Length of whole bytes, 8 to ${MAX_DERIVED_BYTES * 8} bits`);
  }
  if (req.objectType === ObjectType.SymmetricKey) {
    checkSymmetric(rec);
    if (!given.has('Cryptographic Usage Mask')) rec.usageMask = DEFAULT_USAGE_MASK;
  } else {
    rec.secretDataType = SecretDataType.Seed;
  }
  addAttribute(rec, 'Link', 0, link(LinkType.DerivationBaseObjectLink, base.rec.uid), now);

  const p = paramsOf(req.cryptographicParameters, 'the derivation Cryptographic Parameters');
  const bytes = rec.length / 8;
  const secret = await secretBytes(core, base);
  let derived: Buffer;
  try {
    switch (req.derivationMethod) {
      // PKCS#5's default PRF is HMAC-SHA-1.
      case DM.PBKDF2: derived = await pbkdf2Derive(secret, req.salt, req.iterationCount, p.hashingAlgorithm ?? H.SHA1, bytes); break;
      case DM.NIST800108C: derived = kdfCounter(secret, req.derivationData, requireHash(p.hashingAlgorithm), bytes); break;
      case DM.HKDF: derived = await hkdfDerive(secret, req.salt, req.derivationData, requireHash(p.hashingAlgorithm), bytes); break;
      default: throw unsupportedCryptographicParameters(`Derivation Method ${req.derivationMethod} is not supported (PBKDF2, NIST800-108-C and HKDF are)`);
    }
  } finally {
    secret.fill(0);
  }
  try {
    await sealAndStore(core, base.tenant, rec, 'sealing the derived key', () => core.wrapping.seal(base.tenant, { tenantId: base.tenant.id, uid }, derived));
  } finally {
    derived.fill(0);
  }
  // The base names what was derived from it (best effort: the new object is stored already).
  try {
    await core.mutate(base.tenant.id, base.rec.uid, await core.store.getObject(base.tenant.id, base.rec.uid), (r, t) => { addAttribute(r, 'Link', 0, link(LinkType.DerivedKeyLink, uid), t); });
  } catch (e) {
    core.log.warn({ err: e, tenant: base.tenant.id, uid: base.rec.uid }, 'the derived key was stored, but its base object could not be linked to it');
  }
  return { uniqueIdentifier: uid };
}

function requireHash(h: number | undefined): number {
  if (h === undefined) throw badCryptographicParameters('this Derivation Method needs a Hashing Algorithm for its HMAC in the Cryptographic Parameters');
  return h;
}
