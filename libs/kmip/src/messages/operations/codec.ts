import type { TtlvNode } from '../../ttlv/types';
import type { StructReader } from '../struct';
import type { ProtocolVersion } from '../version';

/**
 * Request and response payload codecs for one KMIP operation. Both directions
 * exist for both sides: the gateway decodes requests and encodes responses;
 * the load generator and tests do the reverse.
 */
export interface OperationCodec<Req, Res> {
  operation: number;
  decodeRequest(r: StructReader, v: ProtocolVersion): Req;
  encodeRequest(p: Req, v: ProtocolVersion): TtlvNode[];
  decodeResponse(r: StructReader, v: ProtocolVersion): Res;
  encodeResponse(p: Res, v: ProtocolVersion): TtlvNode[];
}
