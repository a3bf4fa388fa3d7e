// Managed objects keywarden serves: Symmetric Key and Secret Data, each a
// Key Block (KMIP 1.4 §2.1.3, §2.2.2, §2.2.7; KMIP 2.1 §2.1.3).

import { MessageFormatError } from '../errors';
import { ItemType, TtlvNode } from '../ttlv/types';
import { KeyFormatType, ObjectType, ResultReason, Tag } from '../generated';
import { Attribute, decodeAttributeV1, encodeAttributeV1 } from './attributes';
import { StructBuilder, StructReader } from './struct';

export interface KeyBlock {
  keyFormatType: number;
  keyCompressionType?: number;
  /** Raw bytes of the key (for Transparent Symmetric Key, the Key field). */
  keyMaterial: Buffer;
  cryptographicAlgorithm?: number;
  cryptographicLength?: number;
  /** Attributes inside the Key Value (1.x only). */
  keyValueAttributes?: Attribute[];
  /** Present when the key is wrapped; keywarden does not wrap for clients, kept for fidelity. */
  keyWrappingData?: TtlvNode;
}

export type ManagedObject =
  | { objectType: typeof ObjectType.SymmetricKey; keyBlock: KeyBlock }
  | { objectType: typeof ObjectType.SecretData; secretDataType: number; keyBlock: KeyBlock }
  | { objectType: number; raw: TtlvNode };

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

export function decodeKeyBlock(node: TtlvNode): KeyBlock {
  const r = new StructReader(node, Tag.KeyBlock);
  const keyFormatType = r.req(Tag.KeyFormatType, ItemType.Enumeration);
  const keyValueNode = r.node_(Tag.KeyValue);
  if (!keyValueNode) throw new MessageFormatError('Key Block is missing Key Value', ResultReason.InvalidField);
  let keyMaterial: Buffer;
  let keyValueAttributes: Attribute[] | undefined;
  if (keyValueNode.type === ItemType.ByteString) {
    // A wrapped key's Key Value is a Byte String (§2.1.4).
    keyMaterial = keyValueNode.value;
  } else {
    const kv = new StructReader(keyValueNode);
    const km = kv.node_(Tag.KeyMaterial);
    if (!km) throw new MessageFormatError('Key Value is missing Key Material', ResultReason.InvalidField);
    if (km.type === ItemType.ByteString) keyMaterial = km.value;
    else if (km.type === ItemType.Structure && keyFormatType === KeyFormatType.TransparentSymmetricKey) {
      keyMaterial = new StructReader(km).req(Tag.Key, ItemType.ByteString);
    } else {
      throw new MessageFormatError('Key Material of this Key Format Type is not supported', ResultReason.KeyFormatTypeNotSupported);
    }
    const attrs = kv.nodes(Tag.Attribute);
    if (attrs.length) keyValueAttributes = attrs.map(decodeAttributeV1);
  }
  return {
    keyFormatType,
    keyCompressionType: r.opt(Tag.KeyCompressionType, ItemType.Enumeration),
    keyMaterial,
    cryptographicAlgorithm: r.opt(Tag.CryptographicAlgorithm, ItemType.Enumeration),
    cryptographicLength: r.opt(Tag.CryptographicLength, ItemType.Integer),
    keyValueAttributes,
    keyWrappingData: r.node_(Tag.KeyWrappingData),
  };
}

export function encodeKeyBlock(kb: KeyBlock): TtlvNode {
  const material: TtlvNode = kb.keyFormatType === KeyFormatType.TransparentSymmetricKey
    ? { tag: Tag.KeyMaterial, type: ItemType.Structure, value: [{ tag: Tag.Key, type: ItemType.ByteString, value: kb.keyMaterial }] }
    : { tag: Tag.KeyMaterial, type: ItemType.ByteString, value: kb.keyMaterial };
  const keyValue = new StructBuilder().add(material);
  for (const a of kb.keyValueAttributes ?? []) keyValue.add(encodeAttributeV1(a));
  return new StructBuilder()
    .enumeration(Tag.KeyFormatType, kb.keyFormatType)
    .enumeration(Tag.KeyCompressionType, kb.keyCompressionType)
    .add(keyValue.build(Tag.KeyValue))
    .enumeration(Tag.CryptographicAlgorithm, kb.cryptographicAlgorithm)
    .integer(Tag.CryptographicLength, kb.cryptographicLength)
    .add(kb.keyWrappingData)
    .build(Tag.KeyBlock);
}

export function decodeManagedObject(objectType: number, parent: StructReader): ManagedObject {
  const tag = objectTag(objectType);
  const node = tag === undefined ? undefined : parent.node_(tag);
  if (!node) throw new MessageFormatError('the managed object is missing or does not match Object Type', ResultReason.InvalidField);
  const r = new StructReader(node);
  if (objectType === ObjectType.SymmetricKey) {
    return { objectType, keyBlock: decodeKeyBlock(r.reqStruct(Tag.KeyBlock).node) };
  }
  if (objectType === ObjectType.SecretData) {
    return { objectType, secretDataType: r.req(Tag.SecretDataType, ItemType.Enumeration), keyBlock: decodeKeyBlock(r.reqStruct(Tag.KeyBlock).node) };
  }
  return { objectType, raw: node };
}

export function encodeManagedObject(o: ManagedObject): TtlvNode {
  if ('raw' in o) return o.raw;
  const tag = objectTag(o.objectType)!;
  const b = new StructBuilder();
  if (o.objectType === ObjectType.SecretData) b.enumeration(Tag.SecretDataType, o.secretDataType);
  return b.add(encodeKeyBlock(o.keyBlock)).build(tag);
}
