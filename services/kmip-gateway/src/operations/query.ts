// Query — KMIP 1.4 §4.25: report what this server truly supports, limited
// to values defined in the client's protocol version.
import { ObjectType, query as codec, QueryFunction, QueryResponse, enumValueDefinedIn, versionKey } from '@keywarden/kmip';
import { defineOperation, GatewayOperation } from './context';

export const SERVER_VENDOR = 'keywarden';

/** The object types keywarden stores (docs/kmip-gateway.md), every one defined since KMIP 1.0. */
export const OBJECT_TYPES = [
  ObjectType.Certificate, ObjectType.SymmetricKey, ObjectType.PublicKey, ObjectType.PrivateKey, ObjectType.SecretData, ObjectType.OpaqueObject,
];

/** Query, answering with `supportedOperations` (the operation table, Query included). */
export function queryOperation(supportedOperations: () => number[]): GatewayOperation {
  return defineOperation({
    codec,
    readOnly: true,
    async handle(ctx, p) {
      const v = versionKey(ctx.version) ?? '1.0';
      const fns = new Set(p.queryFunctions);
      const res: QueryResponse = { operations: [], objectTypes: [] };
      if (fns.has(QueryFunction.QueryOperations)) {
        res.operations = supportedOperations().filter((op) => enumValueDefinedIn('Operation', op, v));
      }
      if (fns.has(QueryFunction.QueryObjects)) {
        res.objectTypes = OBJECT_TYPES;
      }
      if (fns.has(QueryFunction.QueryServerInformation)) {
        res.vendorIdentification = SERVER_VENDOR;
        res.serverInformation = [];
      }
      return res;
    },
  });
}
