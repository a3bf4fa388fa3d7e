// Discover Versions — KMIP 1.4 §4.26 (new in 1.1); KMIP 2.1 §6.1.19.
import { ItemType } from '../../ttlv/types';
import { Operation, Tag } from '../../generated';
import { StructBuilder, StructReader } from '../struct';
import { ProtocolVersion } from '../version';
import { OperationCodec } from './codec';

export interface DiscoverVersionsPayload {
  protocolVersions: ProtocolVersion[];
}

export function decodeProtocolVersion(r: StructReader): ProtocolVersion {
  return { major: r.req(Tag.ProtocolVersionMajor, ItemType.Integer), minor: r.req(Tag.ProtocolVersionMinor, ItemType.Integer) };
}

export function encodeProtocolVersion(v: ProtocolVersion) {
  return new StructBuilder().integer(Tag.ProtocolVersionMajor, v.major).integer(Tag.ProtocolVersionMinor, v.minor).build(Tag.ProtocolVersion);
}

function decode(r: StructReader): DiscoverVersionsPayload {
  return { protocolVersions: r.nodes(Tag.ProtocolVersion).map((n) => decodeProtocolVersion(new StructReader(n))) };
}

function encode(p: DiscoverVersionsPayload) {
  return p.protocolVersions.map(encodeProtocolVersion);
}

export const discoverVersions: OperationCodec<DiscoverVersionsPayload, DiscoverVersionsPayload> = {
  operation: Operation.DiscoverVersions,
  decodeRequest: decode,
  encodeRequest: encode,
  decodeResponse: decode,
  encodeResponse: encode,
};
