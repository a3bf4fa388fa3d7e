// KMIP 1.4 §4.11 Get (errors: §11.12): the object in a format its type
// allows (the registered one by default), optionally wrapped by another key
// of the tenant (Key Wrapping Specification, §2.1.6: key-wrapping.ts).
import type { lifecycleV1 } from '@keywarden/proto';
import { KeyFormatType as F, ObjectType } from '@keywarden/kmip';
import type { Core, OpContext } from '../core';
import { keyFormatNotSupported, objectDestroyed } from '../errors';
import type { KeyRecord } from '../model/record';
import { isDestroyed } from '../model/state';
import { requireUid } from './common';
import { wrapForGet } from './crypto/key-wrapping';
import {
  kindOfAlgorithm, KeyOut, privateFormats, privateFromStored, publicFormats, publicFromStored, writePrivateKey, writePublicKey,
} from './crypto/keys';

/** Formats an object can be returned in; the first is the default when the registered one is not among them. */
function formatsOf(r: KeyRecord): number[] {
  switch (r.objectType) {
    case ObjectType.SecretData: return [F.Opaque, F.Raw];
    case ObjectType.SymmetricKey: return [F.Raw, F.TransparentSymmetricKey];
    case ObjectType.PrivateKey: return privateFormats(kindOf(r));
    case ObjectType.PublicKey: return publicFormats(kindOf(r));
    // Certificates and opaque objects have no key format: only their own.
    default: return [r.keyFormatType];
  }
}

const kindOf = (r: KeyRecord): 'rsa' | 'ec' => kindOfAlgorithm(r.algorithm) ?? 'rsa';

function formatFor(r: KeyRecord, requested: number): number {
  const allowed = formatsOf(r);
  if (requested === 0) return allowed.includes(r.keyFormatType) ? r.keyFormatType : allowed[0];
  if (!allowed.includes(requested) || r.objectType === ObjectType.Certificate || r.objectType === ObjectType.OpaqueObject) {
    throw keyFormatNotSupported(`this object cannot be returned in key format type ${requested}`);
  }
  return requested;
}

export async function get(core: Core, c: OpContext, req: lifecycleV1.GetRequest): Promise<lifecycleV1.GetResponse> {
  const uid = requireUid(req.uniqueIdentifier);
  c.uid = uid;
  // The caller's certificate, its tenant and the record, read from Redis on
  // every Get before the key cache is consulted: a change made through
  // keywarden on any replica applies to the very next Get here.
  const ctx = await core.resolve(c, req.caller, uid);
  const rec = core.current(ctx.object, uid);
  // Destroyed: only the metadata is kept ("the server only has attributes for this object").
  if (isDestroyed(rec.state)) throw objectDestroyed('the object has been destroyed; its key material no longer exists');
  const format = formatFor(rec, req.keyFormatType);
  const out = await material(core, ctx.tenant, rec, format, ctx.object?.ver ?? '');
  const res: lifecycleV1.GetResponse = {
    uniqueIdentifier: uid,
    objectType: rec.objectType,
    keyFormatType: format,
    cryptographicAlgorithm: rec.algorithm ?? 0,
    cryptographicLength: rec.length ?? 0,
    keyMaterial: out.material,
    secretDataType: rec.secretDataType ?? 0,
    transparentMaterial: out.transparent,
    certificateType: rec.certificateType,
    opaqueDataType: rec.opaqueDataType,
  };
  if (req.keyWrappingSpecification) return wrapForGet(core, ctx.tenant, rec, res, req.keyWrappingSpecification);
  return res;
}

/** The object's material in `format`: unsealed (secret) or from the record (public). */
async function material(core: Core, t: Parameters<Core['unseal']>[0], rec: KeyRecord, format: number, version: string): Promise<KeyOut> {
  if (rec.objectType === ObjectType.PublicKey || rec.objectType === ObjectType.Certificate) {
    const der = Buffer.from(rec.publicMaterial ?? '', 'base64');
    if (rec.objectType === ObjectType.Certificate) return { material: der };
    return writePublicKey(publicFromStored(der), format);
  }
  core.assertNotShredded(t);
  const plaintext = await core.unseal(t, rec, { version });
  if (rec.objectType !== ObjectType.PrivateKey) return { material: plaintext };
  try {
    return writePrivateKey(privateFromStored(plaintext), format);
  } finally {
    plaintext.fill(0);
  }
}
