// Get — KMIP 1.4 spec §4.11: the key in Raw format unless the client asks for
// another supported Key Format Type; no server-side wrapping for clients.
import { CodecReason, GetRequest, GetResponse, KeyFormatType, KmipError, ManagedObject, ObjectType } from '@keywarden/kmip';
import { asBuffer } from '../convert';
import { Handler, targetUid } from './context';

export const get: Handler = async (ctx, p: GetRequest): Promise<GetResponse> => {
  if (p.keyWrappingSpecification) throw new KmipError(CodecReason.FeatureNotSupported, 'Key Wrapping Specification is not supported');
  if (p.keyCompressionType !== undefined) throw new KmipError(CodecReason.FeatureNotSupported, 'Key Compression Type is not supported');
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
};
