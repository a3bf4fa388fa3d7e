// What Add, Modify and Delete Attribute share: the request carrying one
// attribute (KMIP 1.4 §4.14, §4.15; 2.x wraps it in New/Current Attribute,
// KMIP 2.1 §6.1.2, §6.1.35) and the response (the uid, and in 1.x the
// attribute as stored).
import type { TtlvNode } from '../../ttlv/types';
import { ResultReason, Tag } from '../../generated';
import { MessageFormatError } from '../../errors';
import { Attribute, decodeAttributeV1, encodeAttributeV1 } from '../attributes';
import { StructReader } from '../struct';
import { isV2 } from '../version';
import { OperationCodec } from './codec';
import { decodeWrappedAttribute, encodeWrappedAttribute, optUid, reqUid, uidNode } from './common';

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
export const attributeResponse: Pick<OperationCodec<unknown, AttributeResponse>, 'decodeResponse' | 'encodeResponse'> = {
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

/** The codec of an operation whose request is one attribute (Add, Modify Attribute). */
export function attributeOperation(operation: number, wrapper: number): OperationCodec<AttributeRequest, AttributeResponse> {
  return {
    operation,
    decodeRequest: (r, v) => {
      if (isV2(v)) {
        const attribute = decodeWrappedAttribute(r.node_(Tag.NewAttribute));
        if (!attribute) throw new MessageFormatError('missing New Attribute', ResultReason.InvalidField);
        return { uniqueIdentifier: optUid(r), attribute, currentAttribute: decodeWrappedAttribute(r.node_(Tag.CurrentAttribute)) };
      }
      const node = r.node_(Tag.Attribute);
      if (!node) throw new MessageFormatError('missing Attribute', ResultReason.InvalidField);
      if (!new StructReader(node).node_(Tag.AttributeValue)) throw new MessageFormatError('Attribute is missing Attribute Value', ResultReason.InvalidField);
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
