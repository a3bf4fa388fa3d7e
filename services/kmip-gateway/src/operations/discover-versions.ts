// Discover Versions — KMIP 1.4 §4.26: answer the supported versions the
// client listed (all supported when it listed none), in server preference order.
import { discoverVersions as codec, ProtocolVersion, SUPPORTED_VERSIONS } from '@keywarden/kmip';
import { defineOperation } from './context';

export function negotiate(offered: ProtocolVersion[]): ProtocolVersion[] {
  if (offered.length === 0) return [...SUPPORTED_VERSIONS];
  return SUPPORTED_VERSIONS.filter((s) => offered.some((o) => o.major === s.major && o.minor === s.minor));
}

export const discoverVersions = defineOperation({
  codec,
  readOnly: true,
  handle: async (_ctx, p) => ({ protocolVersions: negotiate(p.protocolVersions) }),
});
