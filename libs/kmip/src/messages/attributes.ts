// Attributes, independent of the wire version (KMIP 1.4 §2.1.1 and §3;
// KMIP 2.1 §2.1.1, §4). Version 1.x carries each as
// Attribute{Attribute Name, Attribute Index, Attribute Value}; 2.x carries the
// value under the attribute's own tag inside an Attributes structure, and
// custom attributes as Vendor Attribute.

import { MessageFormatError } from '../errors';
import { ItemType, TtlvNode } from '../ttlv/types';
import { KmipVersion, ResultReason, TAG_BY_SPEC_NAME, TAG_INFO, Tag, TagInfo, tagDefinedIn } from '../generated';
import { StructBuilder, StructReader, tagName } from './struct';

export interface Attribute {
  /** KMIP 1.x attribute name ("Cryptographic Algorithm", "x-Vendor"). */
  name: string;
  index?: number;
  /** The value; its tag is not significant (1.x: Attribute Value). */
  value: TtlvNode;
}

/** x- (client) and y- (server) custom attributes (KMIP 1.4 §3.39 Custom Attribute). */
export function isCustomName(name: string): boolean {
  return name.startsWith('x-') || name.startsWith('y-');
}

/** The tag info for a standard attribute name, if the registry knows it as an attribute-bearing tag. */
export function standardAttributeTag(name: string): TagInfo | undefined {
  return isCustomName(name) ? undefined : TAG_BY_SPEC_NAME.get(name);
}

/** Whether version `v` knows the attribute: custom names always, standard ones when their tag is defined. */
export function attributeDefinedIn(name: string, v: KmipVersion): boolean {
  if (isCustomName(name)) return true;
  const t = standardAttributeTag(name);
  return t !== undefined && tagDefinedIn(t.tag, v);
}

const TYPE_CODE: Record<string, number> = {
  Structure: 1, Integer: 2, LongInteger: 3, BigInteger: 4, Enumeration: 5, Boolean: 6,
  TextString: 7, ByteString: 8, DateTime: 9, Interval: 10, DateTimeExtended: 11,
};

/** Checks a standard attribute's value has the item type the specification gives it. */
export function checkAttributeType(a: Attribute): void {
  const info = standardAttributeTag(a.name);
  if (!info || !info.type) return;
  const want = TYPE_CODE[info.type];
  if (want !== undefined && a.value.type !== want) {
    throw new MessageFormatError(`attribute "${a.name}" must be a ${info.type}`, ResultReason.InvalidField);
  }
}

// ---- KMIP 1.x: Attribute structure ----

export function decodeAttributeV1(node: TtlvNode): Attribute {
  const r = new StructReader(node, Tag.Attribute);
  const name = r.req(Tag.AttributeName, ItemType.TextString);
  const index = r.opt(Tag.AttributeIndex, ItemType.Integer);
  const value = r.node_(Tag.AttributeValue);
  if (index !== undefined && index < 0) throw new MessageFormatError('Attribute Index must not be negative', ResultReason.InvalidField);
  // Attribute Value may be absent in Get Attributes-style references; callers that need it check.
  const a: Attribute = { name, index, value: value ?? { tag: Tag.AttributeValue, type: ItemType.Structure, value: [] } };
  if (value) checkAttributeType(a);
  return a;
}

export function encodeAttributeV1(a: Attribute, tag: number = Tag.Attribute): TtlvNode {
  return new StructBuilder()
    .text(Tag.AttributeName, a.name)
    .integer(Tag.AttributeIndex, a.index ? a.index : undefined)
    .add({ ...a.value, tag: Tag.AttributeValue } as TtlvNode)
    .build(tag);
}

// ---- KMIP 2.x: tagged attributes and Vendor Attribute ----

/** 2.x custom attributes are Attribute {Vendor Identification, Attribute Name, Attribute Value}; x-Foo maps to vendor "x", name "Foo". */
export function decodeAttributeV2(node: TtlvNode): Attribute {
  if (node.tag === Tag.Attribute) {
    const r = new StructReader(node);
    const vendor = r.req(Tag.VendorIdentification, ItemType.TextString);
    const name = r.req(Tag.AttributeName, ItemType.TextString);
    const value = r.node_(Tag.AttributeValue);
    if (!value) throw new MessageFormatError('Vendor Attribute is missing Attribute Value', ResultReason.InvalidField);
    return { name: `${vendor}-${name}`, value };
  }
  const info = TAG_INFO.get(node.tag);
  if (!info) throw new MessageFormatError(`unknown attribute tag ${tagName(node.tag)}`, ResultReason.InvalidField);
  const a: Attribute = { name: info.specName, value: { ...node, tag: Tag.AttributeValue } as TtlvNode };
  checkAttributeType(a);
  return a;
}

export function encodeAttributeV2(a: Attribute): TtlvNode {
  const info = standardAttributeTag(a.name);
  if (info) return { ...a.value, tag: info.tag } as TtlvNode;
  const dash = a.name.indexOf('-');
  const vendor = dash > 0 ? a.name.slice(0, dash) : 'x';
  const name = dash > 0 ? a.name.slice(dash + 1) : a.name;
  return new StructBuilder()
    .text(Tag.VendorIdentification, vendor)
    .text(Tag.AttributeName, name)
    .add({ ...a.value, tag: Tag.AttributeValue } as TtlvNode)
    .build(Tag.Attribute);
}

/** 2.x Attributes structure -> list. */
export function decodeAttributesV2(node: TtlvNode | undefined): Attribute[] {
  if (!node) return [];
  if (node.type !== ItemType.Structure) throw new MessageFormatError('Attributes must be a Structure', ResultReason.InvalidField);
  return node.value.map(decodeAttributeV2);
}

export function encodeAttributesV2(attrs: Attribute[], tag: number = Tag.Attributes): TtlvNode {
  return { tag, type: ItemType.Structure, value: attrs.map(encodeAttributeV2) };
}

/** 1.x Template-Attribute (names of templates are not supported: keywarden has no templates). */
export function decodeTemplateAttribute(node: TtlvNode | undefined): Attribute[] {
  if (!node) return [];
  const r = new StructReader(node);
  if (r.nodes(Tag.Name).length) {
    throw new MessageFormatError('templates are not supported; send the attributes themselves', ResultReason.FeatureNotSupported);
  }
  return r.nodes(Tag.Attribute).map(decodeAttributeV1);
}

export function encodeTemplateAttribute(attrs: Attribute[], tag: number = Tag.TemplateAttribute): TtlvNode {
  return { tag, type: ItemType.Structure, value: attrs.map((a) => encodeAttributeV1(a)) };
}

// ---- Helpers for common attribute values ----

export const attr = {
  text: (name: string, value: string, index?: number): Attribute => ({ name, index, value: { tag: Tag.AttributeValue, type: ItemType.TextString, value } }),
  enumeration: (name: string, value: number, index?: number): Attribute => ({ name, index, value: { tag: Tag.AttributeValue, type: ItemType.Enumeration, value } }),
  integer: (name: string, value: number, index?: number): Attribute => ({ name, index, value: { tag: Tag.AttributeValue, type: ItemType.Integer, value } }),
  dateTime: (name: string, value: bigint, index?: number): Attribute => ({ name, index, value: { tag: Tag.AttributeValue, type: ItemType.DateTime, value } }),
  name: (value: string, nameType = 1, index?: number): Attribute => ({
    name: 'Name', index,
    value: { tag: Tag.AttributeValue, type: ItemType.Structure, value: [
      { tag: Tag.NameValue, type: ItemType.TextString, value },
      { tag: Tag.NameType, type: ItemType.Enumeration, value: nameType },
    ] },
  }),
  link: (linkType: number, linkedId: string, index?: number): Attribute => ({
    name: 'Link', index,
    value: { tag: Tag.AttributeValue, type: ItemType.Structure, value: [
      { tag: Tag.LinkType, type: ItemType.Enumeration, value: linkType },
      { tag: Tag.LinkedObjectIdentifier, type: ItemType.TextString, value: linkedId },
    ] },
  }),
};
