// Register — KMIP 1.4 spec §4.3: client-supplied Symmetric Key or Secret Data,
// sealed under the tenant's root key like generated keys.
import { CodecReason, KeyFormatType, KmipError, ObjectType, RegisterRequest, RegisterResponse } from '@keywarden/kmip';
import { toProtoAttribute } from '../convert';
import { Handler } from './context';

export const register: Handler = async (ctx, p: RegisterRequest): Promise<RegisterResponse> => {
  const o = p.object;
  if ('raw' in o) throw new KmipError(CodecReason.InvalidField, 'Register supports Symmetric Key and Secret Data objects only');
  if (o.keyBlock.keyWrappingData) throw new KmipError(CodecReason.FeatureNotSupported, 'wrapped key material cannot be registered');
  const allowed: number[] = [KeyFormatType.Raw, KeyFormatType.Opaque, KeyFormatType.TransparentSymmetricKey];
  if (!allowed.includes(o.keyBlock.keyFormatType)) {
    throw new KmipError(CodecReason.KeyFormatTypeNotSupported, 'Key Format Type must be Raw, Opaque or Transparent Symmetric Key');
  }
  const attributes = p.attributes.map(toProtoAttribute);
  // The Key Block's algorithm and length are attributes of the object too (KMIP 1.4 spec §2.1.3).
  const has = (n: string) => attributes.some((a) => a.name === n);
  if (o.keyBlock.cryptographicAlgorithm !== undefined && !has('Cryptographic Algorithm')) {
    attributes.push({ name: 'Cryptographic Algorithm', index: 0, value: { enumeration: o.keyBlock.cryptographicAlgorithm } as never });
  }
  if (o.keyBlock.cryptographicLength !== undefined && !has('Cryptographic Length')) {
    attributes.push({ name: 'Cryptographic Length', index: 0, value: { integer: o.keyBlock.cryptographicLength } as never });
  }
  const r = await ctx.backend.register({
    caller: ctx.caller,
    objectType: p.objectType,
    attributes,
    keyMaterial: o.keyBlock.keyMaterial,
    keyFormatType: o.keyBlock.keyFormatType,
    secretDataType: o.objectType === ObjectType.SecretData && 'secretDataType' in o ? o.secretDataType : 0,
  });
  ctx.idPlaceholder = r.uniqueIdentifier;
  return { uniqueIdentifier: r.uniqueIdentifier };
};
