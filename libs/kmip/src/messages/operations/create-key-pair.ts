// Create Key Pair — KMIP 1.4 §4.2; KMIP 2.1 §6.1.9. Attributes in three
// groups: common to both halves, the private key's and the public key's
// (1.x: Template-Attribute structures; 2.x: Attributes structures).
import { ItemType, TtlvNode } from '../../ttlv/types';
import { Operation, Tag } from '../../generated';
import { Attribute, decodeAttributesV2, decodeTemplateAttribute, encodeAttributesV2, encodeTemplateAttribute } from '../attributes';
import { StructBuilder, StructReader } from '../struct';
import { ProtocolVersion, isV2 } from '../version';
import { OperationCodec } from './codec';

export interface CreateKeyPairRequest {
  commonAttributes: Attribute[];
  privateKeyAttributes: Attribute[];
  publicKeyAttributes: Attribute[];
}

export interface CreateKeyPairResponse {
  privateKeyUniqueIdentifier: string;
  publicKeyUniqueIdentifier: string;
  /** 1.x: attributes the server set implicitly, per half. */
  privateKeyAttributes?: Attribute[];
  publicKeyAttributes?: Attribute[];
}

const GROUPS_V1 = [Tag.CommonTemplateAttribute, Tag.PrivateKeyTemplateAttribute, Tag.PublicKeyTemplateAttribute] as const;
const GROUPS_V2 = [Tag.CommonAttributes, Tag.PrivateKeyAttributes, Tag.PublicKeyAttributes] as const;

function decodeGroup(r: StructReader, v: ProtocolVersion, i: 0 | 1 | 2): Attribute[] {
  return isV2(v) ? decodeAttributesV2(r.node_(GROUPS_V2[i])) : decodeTemplateAttribute(r.node_(GROUPS_V1[i]));
}

function encodeGroup(attrs: Attribute[] | undefined, v: ProtocolVersion, i: 0 | 1 | 2): TtlvNode | undefined {
  if (!attrs?.length) return undefined;
  return isV2(v) ? encodeAttributesV2(attrs, GROUPS_V2[i]) : encodeTemplateAttribute(attrs, GROUPS_V1[i]);
}

export const createKeyPair: OperationCodec<CreateKeyPairRequest, CreateKeyPairResponse> = {
  operation: Operation.CreateKeyPair,
  decodeRequest: (r, v) => ({ commonAttributes: decodeGroup(r, v, 0), privateKeyAttributes: decodeGroup(r, v, 1), publicKeyAttributes: decodeGroup(r, v, 2) }),
  encodeRequest: (p, v) => new StructBuilder()
    .add(encodeGroup(p.commonAttributes, v, 0), encodeGroup(p.privateKeyAttributes, v, 1), encodeGroup(p.publicKeyAttributes, v, 2))
    .items,
  decodeResponse: (r, v) => {
    const priv = isV2(v) ? [] : decodeTemplateAttribute(r.node_(Tag.PrivateKeyTemplateAttribute));
    const pub = isV2(v) ? [] : decodeTemplateAttribute(r.node_(Tag.PublicKeyTemplateAttribute));
    return {
      privateKeyUniqueIdentifier: r.req(Tag.PrivateKeyUniqueIdentifier, ItemType.TextString),
      publicKeyUniqueIdentifier: r.req(Tag.PublicKeyUniqueIdentifier, ItemType.TextString),
      privateKeyAttributes: priv.length ? priv : undefined,
      publicKeyAttributes: pub.length ? pub : undefined,
    };
  },
  encodeResponse: (p, v) => new StructBuilder()
    .text(Tag.PrivateKeyUniqueIdentifier, p.privateKeyUniqueIdentifier)
    .text(Tag.PublicKeyUniqueIdentifier, p.publicKeyUniqueIdentifier)
    .add(isV2(v) ? undefined : encodeGroup(p.privateKeyAttributes, v, 1), isV2(v) ? undefined : encodeGroup(p.publicKeyAttributes, v, 2))
    .items,
};
