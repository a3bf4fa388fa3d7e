// Managed objects keywarden serves: Symmetric Key, Secret Data, Public Key
// and Private Key, each a Key Block (KMIP 1.4 §2.1.3, §2.2; KMIP 2.1 §2.1.3,
// §2.2), Certificate (§2.2.1) and Opaque Object (§2.2.8); the Key Wrapping
// Data of a wrapped Key Block (§2.1.5) and the Key Wrapping Specification of
// a Get (§2.1.6).

import { MessageFormatError } from '../errors';
import { ItemType, TtlvNode } from '../ttlv/types';
import { EncodingOption, KeyFormatType, ObjectType, ResultReason, Tag } from '../generated';
import { Attribute, decodeAttributeV1, encodeAttributeV1 } from './attributes';
import { StructBuilder, StructReader } from './struct';

/** Encryption Key Information and MAC/Signature Key Information (KMIP 1.4 §2.1.5 Tables 11, 12). */
export interface KeyInformation {
  uniqueIdentifier: string;
  /** The Cryptographic Parameters structure, as given. */
  cryptographicParameters?: TtlvNode;
}

/** How a Key Block's Key Value was wrapped (KMIP 1.4 §2.1.5 Table 10). */
export interface KeyWrappingData {
  wrappingMethod: number;
  encryptionKeyInformation?: KeyInformation;
  macSignatureKeyInformation?: KeyInformation;
  macSignature?: Buffer;
  ivCounterNonce?: Buffer;
  /** 1.1+. No Encoding: only the Key Material was wrapped (the Key Value stays a structure); TTLV Encoding (the default): the whole Key Value. */
  encodingOption?: number;
}

/** What a Get asks the key to be wrapped with (KMIP 1.4 §2.1.6 Table 13). */
export interface KeyWrappingSpecification {
  wrappingMethod: number;
  encryptionKeyInformation?: KeyInformation;
  macSignatureKeyInformation?: KeyInformation;
  attributeNames: string[];
  encodingOption?: number;
}

export interface KeyBlock {
  keyFormatType: number;
  keyCompressionType?: number;
  /**
   * Raw bytes of the key: a byte-string Key Material, the Key field of a
   * Transparent Symmetric Key, or, when wrapped, the wrapped bytes.
   */
  keyMaterial: Buffer;
  /** The fields of any other transparent Key Material structure (Transparent RSA / EC keys, …); keyMaterial is then empty. */
  transparent?: TtlvNode[];
  cryptographicAlgorithm?: number;
  cryptographicLength?: number;
  /** Attributes inside the Key Value (1.x only). */
  keyValueAttributes?: Attribute[];
  /** Present when the key is wrapped (keyMaterial is then the wrapped bytes). */
  keyWrappingData?: KeyWrappingData;
}

export type KeyObjectType = typeof ObjectType.SymmetricKey | typeof ObjectType.PublicKey | typeof ObjectType.PrivateKey;

export type ManagedObject =
  | { objectType: KeyObjectType; keyBlock: KeyBlock }
  | { objectType: typeof ObjectType.SecretData; secretDataType: number; keyBlock: KeyBlock }
  | { objectType: typeof ObjectType.Certificate; certificateType: number; certificateValue: Buffer }
  | { objectType: typeof ObjectType.OpaqueObject; opaqueDataType: number; opaqueDataValue: Buffer }
  | { objectType: number; raw: TtlvNode };

const KEY_OBJECTS: ReadonlySet<number> = new Set([ObjectType.SymmetricKey, ObjectType.PublicKey, ObjectType.PrivateKey]);

/** The tag that carries each object type in a Get response or Register request. */
export function objectTag(objectType: number): number | undefined {
  switch (objectType) {
    case ObjectType.SymmetricKey: return Tag.SymmetricKey;
    case ObjectType.SecretData: return Tag.SecretData;
    case ObjectType.Certificate: return Tag.Certificate;
    case ObjectType.PublicKey: return Tag.PublicKey;
    case ObjectType.PrivateKey: return Tag.PrivateKey;
    case ObjectType.SplitKey: return Tag.SplitKey;
    case ObjectType.Template: return Tag.Template;
    case ObjectType.OpaqueObject: return Tag.OpaqueObject;
    case ObjectType.PGPKey: return Tag.PGPKey;
    default: return undefined;
  }
}

// ---- key information and wrapping ----

function decodeKeyInformation(r: StructReader | undefined): KeyInformation | undefined {
  if (!r) return undefined;
  const params = r.node_(Tag.CryptographicParameters);
  if (params && params.type !== ItemType.Structure) throw new MessageFormatError('Cryptographic Parameters must be a Structure', ResultReason.InvalidField);
  return { uniqueIdentifier: r.req(Tag.UniqueIdentifier, ItemType.TextString), cryptographicParameters: params };
}

function encodeKeyInformation(k: KeyInformation | undefined, tag: number): TtlvNode | undefined {
  if (!k) return undefined;
  return new StructBuilder()
    .text(Tag.UniqueIdentifier, k.uniqueIdentifier)
    .add(k.cryptographicParameters && { ...k.cryptographicParameters, tag: Tag.CryptographicParameters } as TtlvNode)
    .build(tag);
}

export function decodeKeyWrappingData(node: TtlvNode): KeyWrappingData {
  const r = new StructReader(node, Tag.KeyWrappingData);
  const mac = r.node_(Tag.MACSignature);
  return {
    wrappingMethod: r.req(Tag.WrappingMethod, ItemType.Enumeration),
    encryptionKeyInformation: decodeKeyInformation(r.struct(Tag.EncryptionKeyInformation)),
    macSignatureKeyInformation: decodeKeyInformation(r.struct(Tag.MACSignatureKeyInformation)),
    macSignature: mac ? r.req(Tag.MACSignature, ItemType.ByteString) : undefined,
    ivCounterNonce: r.opt(Tag.IVCounterNonce, ItemType.ByteString),
    encodingOption: r.opt(Tag.EncodingOption, ItemType.Enumeration),
  };
}

export function encodeKeyWrappingData(w: KeyWrappingData): TtlvNode {
  return new StructBuilder()
    .enumeration(Tag.WrappingMethod, w.wrappingMethod)
    .add(encodeKeyInformation(w.encryptionKeyInformation, Tag.EncryptionKeyInformation))
    .add(encodeKeyInformation(w.macSignatureKeyInformation, Tag.MACSignatureKeyInformation))
    .bytes(Tag.MACSignature, w.macSignature)
    .bytes(Tag.IVCounterNonce, w.ivCounterNonce)
    .enumeration(Tag.EncodingOption, w.encodingOption)
    .build(Tag.KeyWrappingData);
}

export function decodeKeyWrappingSpecification(node: TtlvNode): KeyWrappingSpecification {
  const r = new StructReader(node, Tag.KeyWrappingSpecification);
  return {
    wrappingMethod: r.req(Tag.WrappingMethod, ItemType.Enumeration),
    encryptionKeyInformation: decodeKeyInformation(r.struct(Tag.EncryptionKeyInformation)),
    macSignatureKeyInformation: decodeKeyInformation(r.struct(Tag.MACSignatureKeyInformation)),
    attributeNames: r.all(Tag.AttributeName, ItemType.TextString),
    encodingOption: r.opt(Tag.EncodingOption, ItemType.Enumeration),
  };
}

export function encodeKeyWrappingSpecification(w: KeyWrappingSpecification): TtlvNode {
  const b = new StructBuilder()
    .enumeration(Tag.WrappingMethod, w.wrappingMethod)
    .add(encodeKeyInformation(w.encryptionKeyInformation, Tag.EncryptionKeyInformation))
    .add(encodeKeyInformation(w.macSignatureKeyInformation, Tag.MACSignatureKeyInformation));
  for (const n of w.attributeNames) b.text(Tag.AttributeName, n);
  return b.enumeration(Tag.EncodingOption, w.encodingOption).build(Tag.KeyWrappingSpecification);
}

// ---- key blocks ----

export function decodeKeyBlock(node: TtlvNode): KeyBlock {
  const r = new StructReader(node, Tag.KeyBlock);
  const keyFormatType = r.req(Tag.KeyFormatType, ItemType.Enumeration);
  const keyValueNode = r.node_(Tag.KeyValue);
  if (!keyValueNode) throw new MessageFormatError('Key Block is missing Key Value', ResultReason.InvalidField);
  const wrapNode = r.node_(Tag.KeyWrappingData);
  const keyWrappingData = wrapNode ? decodeKeyWrappingData(wrapNode) : undefined;
  let keyMaterial: Buffer;
  let transparent: TtlvNode[] | undefined;
  let keyValueAttributes: Attribute[] | undefined;
  if (keyValueNode.type === ItemType.ByteString) {
    // A Key Value wrapped whole (TTLV Encoding) is a Byte String (§2.1.4).
    keyMaterial = keyValueNode.value;
  } else {
    const kv = new StructReader(keyValueNode);
    const km = kv.node_(Tag.KeyMaterial);
    if (!km) throw new MessageFormatError('Key Value is missing Key Material', ResultReason.InvalidField);
    if (km.type === ItemType.ByteString) keyMaterial = km.value;
    else if (km.type === ItemType.Structure && keyFormatType === KeyFormatType.TransparentSymmetricKey) {
      keyMaterial = new StructReader(km).req(Tag.Key, ItemType.ByteString);
    } else if (km.type === ItemType.Structure) {
      keyMaterial = Buffer.alloc(0);
      transparent = km.value;
    } else {
      throw new MessageFormatError('Key Material must be a Byte String or a Structure', ResultReason.InvalidField);
    }
    const attrs = kv.nodes(Tag.Attribute);
    if (attrs.length) keyValueAttributes = attrs.map(decodeAttributeV1);
    // Only the Key Material is wrapped when the Key Value is still a structure (No Encoding).
    if (keyWrappingData && keyWrappingData.encodingOption === undefined) keyWrappingData.encodingOption = EncodingOption.NoEncoding;
  }
  return {
    keyFormatType,
    keyCompressionType: r.opt(Tag.KeyCompressionType, ItemType.Enumeration),
    keyMaterial,
    transparent,
    cryptographicAlgorithm: r.opt(Tag.CryptographicAlgorithm, ItemType.Enumeration),
    cryptographicLength: r.opt(Tag.CryptographicLength, ItemType.Integer),
    keyValueAttributes,
    keyWrappingData,
  };
}

/** The Key Value structure of a key block (what TTLV Encoding wraps). */
export function encodeKeyValue(kb: Pick<KeyBlock, 'keyFormatType' | 'keyMaterial' | 'transparent' | 'keyValueAttributes'>): TtlvNode {
  let material: TtlvNode;
  if (kb.transparent) material = { tag: Tag.KeyMaterial, type: ItemType.Structure, value: kb.transparent };
  else if (kb.keyFormatType === KeyFormatType.TransparentSymmetricKey) {
    material = { tag: Tag.KeyMaterial, type: ItemType.Structure, value: [{ tag: Tag.Key, type: ItemType.ByteString, value: kb.keyMaterial }] };
  } else material = { tag: Tag.KeyMaterial, type: ItemType.ByteString, value: kb.keyMaterial };
  const keyValue = new StructBuilder().add(material);
  for (const a of kb.keyValueAttributes ?? []) keyValue.add(encodeAttributeV1(a));
  return keyValue.build(Tag.KeyValue);
}

export function encodeKeyBlock(kb: KeyBlock): TtlvNode {
  const w = kb.keyWrappingData;
  let keyValue: TtlvNode;
  if (!w) keyValue = encodeKeyValue(kb);
  else if (w.encodingOption === EncodingOption.NoEncoding) {
    keyValue = { tag: Tag.KeyValue, type: ItemType.Structure, value: [{ tag: Tag.KeyMaterial, type: ItemType.ByteString, value: kb.keyMaterial }] };
  } else keyValue = { tag: Tag.KeyValue, type: ItemType.ByteString, value: kb.keyMaterial };
  return new StructBuilder()
    .enumeration(Tag.KeyFormatType, kb.keyFormatType)
    .enumeration(Tag.KeyCompressionType, kb.keyCompressionType)
    .add(keyValue)
    .enumeration(Tag.CryptographicAlgorithm, kb.cryptographicAlgorithm)
    .integer(Tag.CryptographicLength, kb.cryptographicLength)
    .add(w && encodeKeyWrappingData(w))
    .build(Tag.KeyBlock);
}

// ---- managed objects ----

export function decodeManagedObject(objectType: number, parent: StructReader): ManagedObject {
  const tag = objectTag(objectType);
  const node = tag === undefined ? undefined : parent.node_(tag);
  if (!node) throw new MessageFormatError('the managed object is missing or does not match Object Type', ResultReason.InvalidField);
  const r = new StructReader(node);
  if (KEY_OBJECTS.has(objectType)) {
    return { objectType: objectType as KeyObjectType, keyBlock: decodeKeyBlock(r.reqStruct(Tag.KeyBlock).node) };
  }
  switch (objectType) {
    case ObjectType.SecretData:
      return { objectType, secretDataType: r.req(Tag.SecretDataType, ItemType.Enumeration), keyBlock: decodeKeyBlock(r.reqStruct(Tag.KeyBlock).node) };
    case ObjectType.Certificate:
      return { objectType, certificateType: r.req(Tag.CertificateType, ItemType.Enumeration), certificateValue: r.req(Tag.CertificateValue, ItemType.ByteString) };
    case ObjectType.OpaqueObject:
      return { objectType, opaqueDataType: r.req(Tag.OpaqueDataType, ItemType.Enumeration), opaqueDataValue: r.req(Tag.OpaqueDataValue, ItemType.ByteString) };
    default:
      return { objectType, raw: node };
  }
}

export function encodeManagedObject(o: ManagedObject): TtlvNode {
  if ('raw' in o) return o.raw;
  const tag = objectTag(o.objectType)!;
  const b = new StructBuilder();
  if ('certificateValue' in o) return b.enumeration(Tag.CertificateType, o.certificateType).bytes(Tag.CertificateValue, o.certificateValue).build(tag);
  if ('opaqueDataValue' in o) return b.enumeration(Tag.OpaqueDataType, o.opaqueDataType).bytes(Tag.OpaqueDataValue, o.opaqueDataValue).build(tag);
  if ('secretDataType' in o) b.enumeration(Tag.SecretDataType, o.secretDataType);
  return b.add(encodeKeyBlock(o.keyBlock)).build(tag);
}

/** The key block of an object that has one. */
export function keyBlockOf(o: ManagedObject): KeyBlock | undefined {
  return 'keyBlock' in o ? o.keyBlock : undefined;
}
