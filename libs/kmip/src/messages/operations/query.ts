// Query — KMIP 1.4 §4.25; KMIP 2.1 §6.1.38.
import { ItemType, TtlvNode } from '../../ttlv/types';
import { Operation, Tag } from '../../generated';
import { StructBuilder } from '../struct';
import { OperationCodec } from './codec';

export interface QueryRequest {
  queryFunctions: number[];
}

export interface QueryResponse {
  operations: number[];
  objectTypes: number[];
  vendorIdentification?: string;
  /** Server Information: vendor-defined structure contents. */
  serverInformation?: TtlvNode[];
  applicationNamespaces?: string[];
}

export const query: OperationCodec<QueryRequest, QueryResponse> = {
  operation: Operation.Query,
  decodeRequest: (r) => ({ queryFunctions: r.all(Tag.QueryFunction, ItemType.Enumeration) }),
  encodeRequest: (p) => p.queryFunctions.map((value) => ({ tag: Tag.QueryFunction, type: ItemType.Enumeration, value })),
  decodeResponse: (r) => {
    const info = r.node_(Tag.ServerInformation);
    const namespaces = r.all(Tag.ApplicationNamespace, ItemType.TextString);
    return {
      operations: r.all(Tag.Operation, ItemType.Enumeration),
      objectTypes: r.all(Tag.ObjectType, ItemType.Enumeration),
      vendorIdentification: r.opt(Tag.VendorIdentification, ItemType.TextString),
      serverInformation: info && info.type === ItemType.Structure ? info.value : undefined,
      applicationNamespaces: namespaces.length ? namespaces : undefined,
    };
  },
  encodeResponse: (p) => {
    const b = new StructBuilder();
    for (const op of p.operations) b.enumeration(Tag.Operation, op);
    for (const t of p.objectTypes) b.enumeration(Tag.ObjectType, t);
    b.text(Tag.VendorIdentification, p.vendorIdentification);
    if (p.serverInformation) b.add({ tag: Tag.ServerInformation, type: ItemType.Structure, value: p.serverInformation });
    for (const ns of p.applicationNamespaces ?? []) b.text(Tag.ApplicationNamespace, ns);
    return b.items;
  },
};
