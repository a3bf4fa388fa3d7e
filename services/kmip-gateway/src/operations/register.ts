// Register — KMIP 1.4 §4.3: client-supplied Symmetric Key or Secret Data,
// sealed under the tenant's root key like generated keys. Which object types
// and key formats are accepted is key-lifecycle's rule; the gateway refuses
// only what it cannot carry (an object the codec reads as raw TTLV, wrapped
// key material). Undone by destroying the new object.
import { KmipError, register as codec, ObjectType, ResultReason } from '@keywarden/kmip';
import { toProtoAttribute } from '../convert';
import { defineOperation } from './context';

export const register = defineOperation({
  codec,
  readOnly: false,
  async handle(ctx, p) {
    const o = p.object;
    if ('raw' in o) throw new KmipError(ResultReason.InvalidField, 'Register supports Symmetric Key and Secret Data objects only');
    if (o.keyBlock.keyWrappingData) throw new KmipError(ResultReason.FeatureNotSupported, 'wrapped key material cannot be registered');
    const attributes = p.attributes.map(toProtoAttribute);
    // The Key Block's algorithm and length are attributes of the object too (KMIP 1.4 §2.1.3).
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
  },
  async undo(ctx, _p, res) {
    await ctx.backend.destroy({ caller: ctx.caller, uniqueIdentifier: res.uniqueIdentifier });
  },
});
