// RNG Retrieve — KMIP 1.4 §4.35 (new in 1.2); KMIP 2.1 §6.1.43.
import { ItemType } from '../../ttlv/types';
import { Operation, Tag } from '../../generated';
import { StructBuilder } from '../struct';
import { OperationCodec } from './codec';

export interface RngRetrieveRequest {
  dataLength: number;
}

export interface RngRetrieveResponse {
  data: Buffer;
}

export const rngRetrieve: OperationCodec<RngRetrieveRequest, RngRetrieveResponse> = {
  operation: Operation.RNGRetrieve,
  decodeRequest: (r) => ({ dataLength: r.req(Tag.DataLength, ItemType.Integer) }),
  encodeRequest: (p) => new StructBuilder().integer(Tag.DataLength, p.dataLength).items,
  decodeResponse: (r) => ({ data: r.req(Tag.Data, ItemType.ByteString) }),
  encodeResponse: (p) => new StructBuilder().bytes(Tag.Data, p.data).items,
};
