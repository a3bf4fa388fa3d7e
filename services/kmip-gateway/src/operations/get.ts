// Get — KMIP 1.4 §4.11: the object in the format key-lifecycle chooses (the
// registered one unless the client asks for another it supports), wrapped
// by another key of the tenant when a Key Wrapping Specification asks
// (§2.1.6; key-lifecycle wraps). The gateway refuses what it does not
// implement on the wire: compression, wrapping attributes with the key, and
// key formats the client's version does not define.
import {
  get as codec, enumValueDefinedIn, KeyBlock, KeyFormatType, KmipError, ManagedObject, ObjectType, ResultReason, versionKey,
} from '@keywarden/kmip';
import { asBuffer } from '../convert';
import { defineOperation, targetUid } from './context';
import { transparentFromProto, wrappingFromProto, wrappingToProto } from './crypto-calls';

export const get = defineOperation({
  codec,
  readOnly: true,
  async handle(ctx, p) {
    const spec = p.keyWrappingSpecification;
    if (spec?.attributeNames.length) throw new KmipError(ResultReason.FeatureNotSupported, 'wrapping attributes with the key (Attribute Name in the Key Wrapping Specification) is not supported');
    if (p.keyCompressionType !== undefined) throw new KmipError(ResultReason.FeatureNotSupported, 'Key Compression Type is not supported');
    const v = versionKey(ctx.version);
    if (p.keyFormatType !== undefined && v !== undefined && !enumValueDefinedIn('KeyFormatType', p.keyFormatType, v)) {
      throw new KmipError(ResultReason.KeyFormatTypeNotSupported, `key format type ${p.keyFormatType} is not defined in KMIP ${v}`);
    }
    const r = await ctx.backend.get({
      caller: ctx.caller,
      uniqueIdentifier: targetUid(ctx, p.uniqueIdentifier),
      keyFormatType: p.keyFormatType ?? 0,
      keyWrappingSpecification: spec && wrappingToProto(spec, ctx),
    });
    let object: ManagedObject;
    if (r.objectType === ObjectType.Certificate) {
      object = { objectType: ObjectType.Certificate, certificateType: r.certificateType ?? 0, certificateValue: asBuffer(r.keyMaterial) };
    } else if (r.objectType === ObjectType.OpaqueObject) {
      object = { objectType: ObjectType.OpaqueObject, opaqueDataType: r.opaqueDataType ?? 0, opaqueDataValue: asBuffer(r.keyMaterial) };
    } else {
      const keyBlock: KeyBlock = {
        keyFormatType: r.keyFormatType || KeyFormatType.Raw,
        keyMaterial: asBuffer(r.keyMaterial),
        transparent: transparentFromProto(r.transparentMaterial),
        cryptographicAlgorithm: r.cryptographicAlgorithm || undefined,
        cryptographicLength: r.cryptographicLength || undefined,
        keyWrappingData: r.keyWrappingData && wrappingFromProto(r.keyWrappingData, ctx),
      };
      if (r.objectType === ObjectType.SecretData) object = { objectType: ObjectType.SecretData, secretDataType: r.secretDataType, keyBlock };
      else if (r.objectType === ObjectType.PrivateKey || r.objectType === ObjectType.PublicKey) object = { objectType: r.objectType, keyBlock };
      else object = { objectType: ObjectType.SymmetricKey, keyBlock };
    }
    ctx.idPlaceholder = r.uniqueIdentifier;
    return { objectType: r.objectType, uniqueIdentifier: r.uniqueIdentifier, object };
  },
});
