// Attribute operations:
//   Get Attributes      — KMIP 1.4 spec §4.12; KMIP 2.1 spec §6.1.24
//   Get Attribute List  — KMIP 1.4 spec §4.13; KMIP 2.1 spec §6.1.23
//   Add Attribute       — KMIP 1.4 spec §4.14; KMIP 2.1 spec §6.1.2
//   Modify Attribute    — KMIP 1.4 spec §4.15; KMIP 2.1 spec §6.1.35
//   Delete Attribute    — KMIP 1.4 spec §4.16; KMIP 2.1 spec §6.1.13
import { CodecReason, MessageFormatError } from '../../ttlv/errors';
import { ItemType, TtlvNode } from '../../ttlv/types';
import { Operation, Tag } from '../../generated';
import { Attribute, decodeAttributeV1, encodeAttributeV1 } from '../attributes';
import { StructBuilder, StructReader } from '../struct';
import { isV2 } from '../version';
import { OperationCodec } from './codec';
import {
  decodeAttributeNames, decodeAttributeReference, decodeInlineAttributes, decodeWrappedAttribute, encodeAttributeNames,
  encodeAttributeReference, encodeInlineAttributes, encodeWrappedAttribute, optUid, reqUid, uidNode,
} from './common';

export interface GetAttributesRequest {
  uniqueIdentifier?: string;
  /** Empty = all attributes. */
  attributeNames: string[];
}

export interface GetAttributesResponse {
  uniqueIdentifier: string;
  attributes: Attribute[];
}

export const getAttributes: OperationCodec<GetAttributesRequest, GetAttributesResponse> = {
  operation: Operation.GetAttributes,
  decodeRequest: (r, v) => ({ uniqueIdentifier: optUid(r), attributeNames: decodeAttributeNames(r, v) }),
  encodeRequest: (p, v) => [...uidNode(p.uniqueIdentifier), ...encodeAttributeNames(p.attributeNames, v)],
  decodeResponse: (r, v) => ({ uniqueIdentifier: reqUid(r), attributes: decodeInlineAttributes(r, v) }),
  encodeResponse: (p, v) => [...uidNode(p.uniqueIdentifier), ...encodeInlineAttributes(p.attributes, v)],
};

export interface GetAttributeListResponse {
  uniqueIdentifier: string;
  attributeNames: string[];
}

export const getAttributeList: OperationCodec<{ uniqueIdentifier?: string }, GetAttributeListResponse> = {
  operation: Operation.GetAttributeList,
  decodeRequest: (r) => ({ uniqueIdentifier: optUid(r) }),
  encodeRequest: (p) => uidNode(p.uniqueIdentifier),
  decodeResponse: (r, v) => ({ uniqueIdentifier: reqUid(r), attributeNames: decodeAttributeNames(r, v) }),
  encodeResponse: (p, v) => [...uidNode(p.uniqueIdentifier), ...encodeAttributeNames(p.attributeNames, v)],
};

export interface AttributeRequest {
  uniqueIdentifier?: string;
  attribute: Attribute;
  /** 2.x Modify Attribute: the instance being replaced, when given. */
  currentAttribute?: Attribute;
}

export interface AttributeResponse {
  uniqueIdentifier: string;
  /** 1.x returns the attribute as stored; 2.x returns only the identifier. */
  attribute?: Attribute;
}

/** Add, Modify and Delete Attribute share their response: the uid, and in 1.x the attribute. */
const attributeResponse: Pick<OperationCodec<unknown, AttributeResponse>, 'decodeResponse' | 'encodeResponse'> = {
  decodeResponse: (r, v) => {
    const node = isV2(v) ? undefined : r.node_(Tag.Attribute);
    return { uniqueIdentifier: reqUid(r), attribute: node ? decodeAttributeV1(node) : undefined };
  },
  encodeResponse: (p, v) => {
    const out = uidNode(p.uniqueIdentifier);
    if (!isV2(v) && p.attribute) out.push(encodeAttributeV1(p.attribute));
    return out;
  },
};

function attributeOp(operation: number, wrapper: number): OperationCodec<AttributeRequest, AttributeResponse> {
  return {
    operation,
    decodeRequest: (r, v) => {
      if (isV2(v)) {
        const attribute = decodeWrappedAttribute(r.node_(Tag.NewAttribute));
        if (!attribute) throw new MessageFormatError('missing New Attribute', CodecReason.InvalidField);
        return { uniqueIdentifier: optUid(r), attribute, currentAttribute: decodeWrappedAttribute(r.node_(Tag.CurrentAttribute)) };
      }
      const node = r.node_(Tag.Attribute);
      if (!node) throw new MessageFormatError('missing Attribute', CodecReason.InvalidField);
      if (!new StructReader(node).node_(Tag.AttributeValue)) throw new MessageFormatError('Attribute is missing Attribute Value', CodecReason.InvalidField);
      return { uniqueIdentifier: optUid(r), attribute: decodeAttributeV1(node) };
    },
    encodeRequest: (p, v) => {
      if (isV2(v)) {
        const out: TtlvNode[] = uidNode(p.uniqueIdentifier);
        if (p.currentAttribute) out.push(encodeWrappedAttribute(p.currentAttribute, Tag.CurrentAttribute));
        out.push(encodeWrappedAttribute(p.attribute, wrapper));
        return out;
      }
      return [...uidNode(p.uniqueIdentifier), encodeAttributeV1(p.attribute)];
    },
    ...attributeResponse,
  };
}

export const addAttribute = attributeOp(Operation.AddAttribute, Tag.NewAttribute);
export const modifyAttribute = attributeOp(Operation.ModifyAttribute, Tag.NewAttribute);

export interface DeleteAttributeRequest {
  uniqueIdentifier?: string;
  attributeName: string;
  attributeIndex?: number;
  /** 2.x Current Attribute: delete the instance with this value. */
  currentValue?: TtlvNode;
}

export const deleteAttribute: OperationCodec<DeleteAttributeRequest, AttributeResponse> = {
  operation: Operation.DeleteAttribute,
  decodeRequest: (r, v) => {
    if (isV2(v)) {
      const current = decodeWrappedAttribute(r.node_(Tag.CurrentAttribute));
      if (current) return { uniqueIdentifier: optUid(r), attributeName: current.name, currentValue: current.value };
      const ref = r.node_(Tag.AttributeReference);
      if (!ref) throw new MessageFormatError('Delete Attribute needs Current Attribute or Attribute Reference', CodecReason.InvalidField);
      return { uniqueIdentifier: optUid(r), attributeName: decodeAttributeReference(ref) };
    }
    return {
      uniqueIdentifier: optUid(r),
      attributeName: r.req(Tag.AttributeName, ItemType.TextString),
      attributeIndex: r.opt(Tag.AttributeIndex, ItemType.Integer),
    };
  },
  encodeRequest: (p, v) => {
    if (isV2(v)) {
      return [...uidNode(p.uniqueIdentifier), p.currentValue
        ? encodeWrappedAttribute({ name: p.attributeName, value: p.currentValue }, Tag.CurrentAttribute)
        : encodeAttributeReference(p.attributeName)];
    }
    return new StructBuilder()
      .text(Tag.UniqueIdentifier, p.uniqueIdentifier)
      .text(Tag.AttributeName, p.attributeName)
      .integer(Tag.AttributeIndex, p.attributeIndex)
      .items;
  },
  ...attributeResponse,
};
