// KMIP 1.4 §4.11 Get (errors: §11.12).
import type { lifecycleV1 } from '@keywarden/proto';
import { KeyFormatType, ObjectType } from '@keywarden/kmip';
import type { Core, OpContext } from '../core';
import { keyFormatNotSupported, objectDestroyed } from '../errors';
import { isDestroyed } from '../model/state';
import { requireUid } from './common';

/** Formats each object type can be returned in; the first is the default. */
function formatFor(objectType: number, registered: number, requested: number): number {
  const allowed: number[] = objectType === ObjectType.SecretData
    ? [KeyFormatType.Opaque, KeyFormatType.Raw]
    : [KeyFormatType.Raw, KeyFormatType.TransparentSymmetricKey];
  if (requested === 0) return allowed.includes(registered) ? registered : allowed[0];
  if (!allowed.includes(requested)) throw keyFormatNotSupported(`this object cannot be returned in key format type ${requested}`);
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
  const format = formatFor(rec.objectType, rec.keyFormatType, req.keyFormatType);
  core.assertNotShredded(ctx.tenant);
  const plaintext = await core.unseal(ctx.tenant, rec, { version: ctx.object?.ver });
  return {
    uniqueIdentifier: uid,
    objectType: rec.objectType,
    keyFormatType: format,
    cryptographicAlgorithm: rec.algorithm ?? 0,
    cryptographicLength: rec.length ?? 0,
    keyMaterial: plaintext,
    secretDataType: rec.secretDataType ?? 0,
  };
}
