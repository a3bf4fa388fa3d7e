// Register — KMIP 1.4 §4.3: a client's Symmetric Key, Secret Data, Private
// or Public Key, Certificate or Opaque Object. Secret material is sealed
// under the tenant's root key like generated keys; wrapped key material
// (Key Wrapping Data) is unwrapped by key-lifecycle with the key it names.
// Which object types and key formats are accepted is key-lifecycle's rule;
// the gateway refuses only what it cannot carry (an object the codec reads as
// raw TTLV, compressed keys). Undone by destroying the new object.
import { KmipError, register as codec, ObjectType, ResultReason } from '@keywarden/kmip';
import type { lifecycleV1 } from '@keywarden/proto';
import { toProtoAttribute } from '../convert';
import { defineOperation } from './context';
import { transparentToProto, wrappingToProto } from './crypto-calls';

const EMPTY = Buffer.alloc(0);

export const register = defineOperation({
  codec,
  readOnly: false,
  async handle(ctx, p) {
    const o = p.object;
    if ('raw' in o) {
      throw new KmipError(ResultReason.InvalidField, 'Register supports Symmetric Keys, Secret Data, Private and Public Keys, Certificates and Opaque Objects');
    }
    const attributes = p.attributes.map(toProtoAttribute);
    const req: lifecycleV1.RegisterRequest = { caller: ctx.caller, objectType: p.objectType, attributes, keyMaterial: EMPTY, keyFormatType: 0, secretDataType: 0 };
    if ('certificateValue' in o) {
      req.keyMaterial = o.certificateValue;
      req.certificateType = o.certificateType;
    } else if ('opaqueDataValue' in o) {
      req.keyMaterial = o.opaqueDataValue;
      req.opaqueDataType = o.opaqueDataType;
    } else {
      const kb = o.keyBlock;
      if (kb.keyCompressionType !== undefined) throw new KmipError(ResultReason.KeyCompressionTypeNotSupported, 'compressed key material cannot be registered');
      // The Key Block's algorithm and length are attributes of the object too (KMIP 1.4 §2.1.3).
      const has = (n: string) => attributes.some((a) => a.name === n);
      if (kb.cryptographicAlgorithm !== undefined && !has('Cryptographic Algorithm')) {
        attributes.push({ name: 'Cryptographic Algorithm', index: 0, value: { enumeration: kb.cryptographicAlgorithm } as never });
      }
      if (kb.cryptographicLength !== undefined && !has('Cryptographic Length')) {
        attributes.push({ name: 'Cryptographic Length', index: 0, value: { integer: kb.cryptographicLength } as never });
      }
      req.keyMaterial = kb.keyMaterial;
      req.keyFormatType = kb.keyFormatType;
      req.transparentMaterial = transparentToProto(kb.transparent);
      if (kb.keyWrappingData) req.keyWrappingData = wrappingToProto(kb.keyWrappingData, ctx);
      if (o.objectType === ObjectType.SecretData && 'secretDataType' in o) req.secretDataType = o.secretDataType;
    }
    const r = await ctx.backend.register(req);
    ctx.idPlaceholder = r.uniqueIdentifier;
    return { uniqueIdentifier: r.uniqueIdentifier };
  },
  async undo(ctx, _p, res) {
    await ctx.backend.destroy({ caller: ctx.caller, uniqueIdentifier: res.uniqueIdentifier });
  },
});
