// Pieces shared by several operations' payloads.
import { MessageFormatError } from '../../errors';
import { ItemType, TtlvNode } from '../../ttlv/types';
import { ResultReason, TAG_INFO, Tag } from '../../generated';
import {
  Attribute, decodeAttributeV1, decodeAttributesV2, decodeTemplateAttribute, encodeAttributeV1, encodeAttributesV2,
  encodeTemplateAttribute, standardAttributeTag,
} from '../attributes';
import { StructReader } from '../struct';
import type { OperationCodec } from './codec';
import { ProtocolVersion, isV2 } from '../version';

export interface UidPayload {
  uniqueIdentifier?: string;
}

export interface UidResponse {
  uniqueIdentifier: string;
}

/**
 * The codec of an operation whose request is just an optional Unique
 * Identifier and whose response is the Unique Identifier (Activate, Destroy).
 */
export function uidOperation(operation: number): OperationCodec<UidPayload, UidResponse> {
  return {
    operation,
    decodeRequest: (r) => ({ uniqueIdentifier: optUid(r) }),
    encodeRequest: (p) => uidNode(p.uniqueIdentifier),
    decodeResponse: (r) => ({ uniqueIdentifier: reqUid(r) }),
    encodeResponse: (p) => uidNode(p.uniqueIdentifier),
  };
}

/** Unique Identifier is optional in most requests: the ID Placeholder fills it (KMIP 1.4 §4 intro). */
export const optUid = (r: StructReader): string | undefined => r.opt(Tag.UniqueIdentifier, ItemType.TextString);
export const reqUid = (r: StructReader): string => r.req(Tag.UniqueIdentifier, ItemType.TextString);

export function uidNode(uid: string | undefined): TtlvNode[] {
  return uid === undefined ? [] : [{ tag: Tag.UniqueIdentifier, type: ItemType.TextString, value: uid }];
}

/** Attributes sent with Create/Register: Template-Attribute (1.x) or Attributes (2.x). */
export function decodeRequestAttributes(r: StructReader, v: ProtocolVersion): Attribute[] {
  return isV2(v) ? decodeAttributesV2(r.node_(Tag.Attributes)) : decodeTemplateAttribute(r.node_(Tag.TemplateAttribute));
}

export function encodeRequestAttributes(attrs: Attribute[], v: ProtocolVersion): TtlvNode {
  return isV2(v) ? encodeAttributesV2(attrs) : encodeTemplateAttribute(attrs);
}

/** Attribute list carried directly in the payload (1.x Locate, Get Attributes response). */
export function decodeInlineAttributes(r: StructReader, v: ProtocolVersion): Attribute[] {
  return isV2(v) ? decodeAttributesV2(r.node_(Tag.Attributes)) : r.nodes(Tag.Attribute).map(decodeAttributeV1);
}

export function encodeInlineAttributes(attrs: Attribute[], v: ProtocolVersion): TtlvNode[] {
  return isV2(v) ? [encodeAttributesV2(attrs)] : attrs.map((a) => encodeAttributeV1(a));
}

/**
 * 2.x Attribute Reference: an Enumeration holding the attribute's tag, or a
 * structure {Vendor Identification, Attribute Name} for custom attributes
 * (KMIP 2.1, Attribute Reference). Returns the 1.x-style name.
 */
export function decodeAttributeReference(n: TtlvNode): string {
  if (n.type === ItemType.Enumeration) {
    const info = TAG_INFO.get(n.value);
    if (!info) throw new MessageFormatError(`Attribute Reference names unknown tag 0x${n.value.toString(16)}`, ResultReason.InvalidField);
    return info.specName;
  }
  const r = new StructReader(n);
  return `${r.req(Tag.VendorIdentification, ItemType.TextString)}-${r.req(Tag.AttributeName, ItemType.TextString)}`;
}

export function encodeAttributeReference(name: string): TtlvNode {
  const info = standardAttributeTag(name);
  if (info) return { tag: Tag.AttributeReference, type: ItemType.Enumeration, value: info.tag };
  const dash = name.indexOf('-');
  return {
    tag: Tag.AttributeReference, type: ItemType.Structure, value: [
      { tag: Tag.VendorIdentification, type: ItemType.TextString, value: dash > 0 ? name.slice(0, dash) : 'x' },
      { tag: Tag.AttributeName, type: ItemType.TextString, value: dash > 0 ? name.slice(dash + 1) : name },
    ],
  };
}

/** Names requested by Get Attributes / returned by Get Attribute List. */
export function decodeAttributeNames(r: StructReader, v: ProtocolVersion): string[] {
  return isV2(v) ? r.nodes(Tag.AttributeReference).map(decodeAttributeReference) : r.all(Tag.AttributeName, ItemType.TextString);
}

export function encodeAttributeNames(names: string[], v: ProtocolVersion): TtlvNode[] {
  return isV2(v) ? names.map(encodeAttributeReference) : names.map((value) => ({ tag: Tag.AttributeName, type: ItemType.TextString, value }));
}

/** 2.x single-attribute wrappers (New Attribute, Current Attribute). */
export function decodeWrappedAttribute(n: TtlvNode | undefined): Attribute | undefined {
  if (!n) return undefined;
  const r = new StructReader(n);
  const inner = r.node.type === ItemType.Structure ? (r.node.value as TtlvNode[]) : [];
  if (inner.length !== 1) throw new MessageFormatError('New/Current Attribute must hold exactly one attribute', ResultReason.InvalidField);
  return decodeAttributesV2({ tag: Tag.Attributes, type: ItemType.Structure, value: inner })[0];
}

export function encodeWrappedAttribute(a: Attribute, tag: number): TtlvNode {
  const inner = encodeAttributesV2([a]);
  return { tag, type: ItemType.Structure, value: inner.type === ItemType.Structure ? inner.value : [] };
}
