// Delete Attribute — KMIP 1.4 §4.16; KMIP 2.1 §6.1.13 (Current Attribute or Attribute Reference names the instance).
import { ItemType, TtlvNode } from '../../ttlv/types';
import { Operation, ResultReason, Tag } from '../../generated';
import { MessageFormatError } from '../../errors';
import { StructBuilder } from '../struct';
import { isV2 } from '../version';
import { OperationCodec } from './codec';
import { AttributeResponse, attributeResponse } from './attribute-change';
import { decodeAttributeReference, decodeWrappedAttribute, encodeAttributeReference, encodeWrappedAttribute, optUid, uidNode } from './common';

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
      if (!ref) throw new MessageFormatError('Delete Attribute needs Current Attribute or Attribute Reference', ResultReason.InvalidField);
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
