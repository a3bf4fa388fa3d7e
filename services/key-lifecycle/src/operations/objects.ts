// The object types beyond symmetric keys (KMIP 1.4 §2.2): what each stores
// and where, and how a new one is stored. Secret material (private keys,
// opaque objects, like symmetric keys and secret data) is sealed by the
// tenant's root key through crk-wrapping; public material (public keys,
// certificates) is not secret and stays in the record (publicMaterial).
import { createPublicKey, KeyObject } from 'crypto';
import { CryptographicAlgorithm as A, CryptographicUsageMask as U, ObjectType, Tag } from '@keywarden/kmip';
import type { Core } from '../core';
import { invalidField, nonUniqueName, unavailable, unknownCaller } from '../errors';
import type { KeyRecord } from '../model/record';
import { enumeration, StoredValue, text } from '../model/values';
import { NotReplicatedError, parseQuotaResult, TenantRecord } from '../store/store';
import { checkNewObject, quotaError } from './quota';
import { EC_ALGORITHMS, kindOfAlgorithm, KeyShape, publicStored, RSA_ALGORITHMS, shapeOf } from './crypto/keys';

/** crk-wrapping seals at most this much (docs/crk-wrapping.md): an opaque object's largest value. */
export const MAX_SEALED_BYTES = 4096;
/** A certificate's or public key's largest DER, kept in Redis. */
export const MAX_PUBLIC_BYTES = 16 * 1024;

/** A Link attribute's value (KMIP 1.4 §3.35): key pairs and derived keys name their counterparts. */
export function link(type: number, uid: string): StoredValue {
  return { t: 'struct', v: [{ tag: Tag.LinkType, value: enumeration(type) }, { tag: Tag.LinkedObjectIdentifier, value: text(uid) }] };
}

/** Default usage of each half of an RSA or EC key pair created or registered without a Cryptographic Usage Mask. */
export function defaultUsageMask(objectType: number, kind: 'rsa' | 'ec'): number {
  if (objectType === ObjectType.PrivateKey) return kind === 'rsa' ? U.Sign | U.Decrypt : U.Sign;
  return kind === 'rsa' ? U.Verify | U.Encrypt : U.Verify;
}

/**
 * Checks the Cryptographic Algorithm and Length a record was given against
 * the key (either may be absent: then the key's are set). EC keys may be
 * named ECDSA (1.0) or EC (1.2+).
 */
export function applyShape(r: KeyRecord, key: KeyObject): KeyShape {
  const shape = shapeOf(key);
  const given = kindOfAlgorithm(r.algorithm);
  if (r.algorithm !== undefined && given !== shape.kind) {
    throw invalidField(`Cryptographic Algorithm ${r.algorithm} does not match the ${shape.kind === 'rsa' ? 'RSA' : 'EC'} key material`);
  }
  if (r.length !== undefined && r.length !== shape.length) throw invalidField(`Cryptographic Length ${r.length} does not match the ${shape.length}-bit key material`);
  r.algorithm ??= shape.kind === 'rsa' ? A.RSA : A.ECDSA;
  r.length = shape.length;
  return shape;
}

/** Whether the algorithm names an RSA or EC key. */
export const isAsymmetricAlgorithm = (a: number): boolean => RSA_ALGORITHMS.has(a) || EC_ALGORITHMS.has(a);

/** Sets a public key's or certificate's material on its record (bounded: it is kept in Redis). */
export function setPublicMaterial(r: KeyRecord, der: Buffer): void {
  if (der.length > MAX_PUBLIC_BYTES) throw invalidField(`public material larger than ${MAX_PUBLIC_BYTES} bytes`);
  r.publicMaterial = der.toString('base64');
}

/** Sets a public key's material (the public half of `key`, when that is a private key). */
export function setPublicKey(r: KeyRecord, key: KeyObject): void {
  setPublicMaterial(r, publicStored(key.type === 'private' ? createPublicKey(key) : key));
}

/**
 * Stores a new record that has no sealed object (a public key, a
 * certificate): durably (AOF, WAIT), or, when that fails, not at all if it
 * can be taken back.
 */
export async function persistPublic(core: Core, t: TenantRecord, rec: KeyRecord): Promise<void> {
  core.assertNotShredded(t);
  await checkNewObject(core.store, t, rec);
  let result;
  try {
    result = await core.store.writeObject(undefined, rec);
  } catch (e) {
    await removeQuietly(core, rec);
    if (e instanceof NotReplicatedError) throw unavailable(`the new object was not confirmed by enough Redis replicas (${e.message}); nothing was created`, e);
    throw unavailable('the key store is unavailable; nothing was created', e);
  }
  if (result === 'OK') return;
  if (result.startsWith('TAKEN:')) throw nonUniqueName(result.slice(6));
  const quota = parseQuotaResult(result);
  if (quota) throw quotaError(t.id, quota);
  if (result === 'NOTENANT') throw unknownCaller();
  throw unavailable(`could not store the new object (${result})`);
}

async function removeQuietly(core: Core, rec: KeyRecord): Promise<void> {
  try {
    const cur = await core.store.getObject(rec.tenant, rec.uid);
    if (cur) await core.store.writeObject(cur, undefined, { wait: false });
  } catch (e) {
    core.log.error({ err: e, tenant: rec.tenant, uid: rec.uid }, 'a failed create could not be taken back');
  }
}

/**
 * Takes back an object stored by an operation that then failed (the first
 * half of a key pair when the second could not be stored): its record, then
 * its sealed object.
 */
export async function takeBack(core: Core, t: TenantRecord, rec: KeyRecord): Promise<void> {
  await removeQuietly(core, rec);
  if (rec.sealedRef) await core.destroySealedQuietly(t, rec.uid, Buffer.from(rec.sealedRef, 'base64'));
}
