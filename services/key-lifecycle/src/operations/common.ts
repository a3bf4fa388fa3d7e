import type { lifecycleV1, wrappingV1 } from '@keywarden/proto';
import { CryptographicAlgorithm, CryptographicUsageMask, ObjectType, State } from '@keywarden/kmip';
import type { Core } from '../core';
import { invalidField } from '../errors';
import { applyTemplateAttribute } from '../model/attributes';
import type { AttributeInstance, KeyRecord } from '../model/record';
import { fromProto, toProto } from '../model/values';
import { isHmacAlgorithm } from './crypto/engine';
import { checkNewObject } from './quota';
import type { TenantRecord } from '../store/store';
import { wrappingFailure } from '../wrapping';

export function attributeOut(name: string, inst: AttributeInstance): lifecycleV1.Attribute {
  return { name, index: inst.i, value: toProto(inst.v) };
}

export function requireUid(uid: string): string {
  if (!uid) throw invalidField('a Unique Identifier is required');
  if (uid.length > 256) throw invalidField('the Unique Identifier is too long');
  return uid;
}

export function requireAttribute(a: lifecycleV1.Attribute | undefined): lifecycleV1.Attribute {
  if (!a || !a.name) throw invalidField('an Attribute with a name is required');
  return a;
}

/** A fresh record in the Pre-Active state (3.22 transition 1). */
export function newRecord(uid: string, tenant: string, createdBy: string, objectType: number, keyFormatType: number, now: number): KeyRecord {
  return {
    uid, tenant, createdBy, objectType, keyFormatType,
    createdMs: Date.now(),
    state: State.PreActive,
    usageMask: 0,
    initialDate: now,
    lastChangeDate: now,
    attrs: {},
    crkVersion: '',
  };
}

/** Applies a Create/Register template (11.2, 11.4: bad attributes are Invalid Field). */
export function applyTemplate(r: KeyRecord, attributes: lifecycleV1.Attribute[], now: number): Set<string> {
  const seen = new Set<string>();
  for (const a of attributes) {
    if (!a.name) throw invalidField('an attribute without a name');
    applyTemplateAttribute(r, a.name, fromProto(a.value, `attribute "${a.name}"`), seen, now);
  }
  return seen;
}

/** Default Cryptographic Usage Mask of a key created without one (it SHALL always have a value, 3.19). */
export const DEFAULT_USAGE_MASK = CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt;

const AES_LENGTHS = new Set([128, 192, 256]);

/** Checks algorithm and length of a symmetric key (11.2: incorrect attribute values are Invalid Field). */
export function checkSymmetric(r: KeyRecord): void {
  if (r.objectType !== ObjectType.SymmetricKey) return;
  if (r.algorithm === undefined) throw invalidField('a symmetric key needs a Cryptographic Algorithm');
  if (r.algorithm !== CryptographicAlgorithm.AES && r.algorithm !== CryptographicAlgorithm._3DES && !isHmacAlgorithm(r.algorithm)) throw invalidField(`Cryptographic Algorithm ${r.algorithm} is not supported for symmetric keys (AES, 3DES, HMAC-SHA*)`);
  if (r.length === undefined) throw invalidField('a symmetric key needs a Cryptographic Length');
  if (r.algorithm === CryptographicAlgorithm.AES && !AES_LENGTHS.has(r.length)) throw invalidField(`AES keys are 128, 192 or 256 bits, not ${r.length}`);
  if (r.algorithm === CryptographicAlgorithm._3DES && r.length !== 192) throw invalidField(`3DES keys are 192 bits (parity included), not ${r.length}`);
  if (r.length < 8 || r.length > 4096 || r.length % 8 !== 0) throw invalidField(`Cryptographic Length ${r.length} is not a whole number of bytes between 8 and 4096 bits`);
  // What crk-wrapping generates, and at least the 112 bits NIST SP 800-107 asks of an HMAC key.
  if (isHmacAlgorithm(r.algorithm) && r.length < 128) throw invalidField(`HMAC keys are 128 to 4096 bits, not ${r.length}`);
}

/** Seals the key through crk-wrapping, then stores the record durably (Create, Register). */
export async function sealAndStore(core: Core, t: TenantRecord, rec: KeyRecord, action: string, seal: () => Promise<wrappingV1.SealResponse>): Promise<void> {
  core.assertNotShredded(t);
  await checkNewObject(core.store, t, rec);
  let sealed;
  try {
    sealed = await seal();
  } catch (e) {
    throw wrappingFailure(e, action);
  }
  rec.sealedRef = sealed.sealedRef.toString('base64');
  rec.crkVersion = sealed.crkVersion;
  await core.persistNew(t, rec, sealed.sealedRef);
}
