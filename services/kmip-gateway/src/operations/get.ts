// Get — KMIP 1.4 §4.11: the key in the format key-lifecycle chooses (Raw
// unless the client asks for another it supports). The gateway refuses what
// it does not implement on the wire: server-side wrapping and compression.
import { get as codec, KeyFormatType, KmipError, ManagedObject, ObjectType, ResultReason } from '@keywarden/kmip';
import { asBuffer } from '../convert';
import { defineOperation, targetUid } from './context';

export const get = defineOperation({
  codec,
  readOnly: true,
  async handle(ctx, p) {
    if (p.keyWrappingSpecification) throw new KmipError(ResultReason.FeatureNotSupported, 'Key Wrapping Specification is not supported');
    if (p.keyCompressionType !== undefined) throw new KmipError(ResultReason.FeatureNotSupported, 'Key Compression Type is not supported');
    const r = await ctx.backend.get({ caller: ctx.caller, uniqueIdentifier: targetUid(ctx, p.uniqueIdentifier), keyFormatType: p.keyFormatType ?? 0 });
    const keyBlock = {
      keyFormatType: r.keyFormatType || KeyFormatType.Raw,
      keyMaterial: asBuffer(r.keyMaterial),
      cryptographicAlgorithm: r.cryptographicAlgorithm || undefined,
      cryptographicLength: r.cryptographicLength || undefined,
    };
    const object: ManagedObject = r.objectType === ObjectType.SecretData
      ? { objectType: ObjectType.SecretData, secretDataType: r.secretDataType, keyBlock }
      : { objectType: ObjectType.SymmetricKey, keyBlock };
    ctx.idPlaceholder = r.uniqueIdentifier;
    return { objectType: r.objectType, uniqueIdentifier: r.uniqueIdentifier, object };
  },
});
