// Signature Verify — KMIP 1.4 §4.32 (1.2+): with the tenant's public keys;
// a signature that does not verify answers Validity Indicator Invalid.
import { signatureVerify as codec } from '@keywarden/kmip';
import { defineOperation, targetUid } from './context';
import { lifecycleCall, orEmpty, paramsToProto, refuseStreaming } from './crypto-calls';

export const signatureVerify = defineOperation({
  codec,
  readOnly: true,
  async handle(ctx, p) {
    refuseStreaming(p);
    const r = await lifecycleCall(ctx, 'signatureVerify', 'Signature Verify')({
      caller: ctx.caller,
      uniqueIdentifier: targetUid(ctx, p.uniqueIdentifier),
      cryptographicParameters: paramsToProto(p.cryptographicParameters),
      data: orEmpty(p.data),
      digestedData: orEmpty(p.digestedData),
      signatureData: orEmpty(p.signatureData),
    });
    return { uniqueIdentifier: r.uniqueIdentifier, validityIndicator: r.validityIndicator };
  },
});
