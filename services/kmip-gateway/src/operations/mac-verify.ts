// MAC Verify — KMIP 1.4 §4.34 (1.2+): a MAC that does not match answers
// Validity Indicator Invalid.
import { macVerify as codec } from '@keywarden/kmip';
import { defineOperation, targetUid } from './context';
import { lifecycleCall, orEmpty, paramsToProto, refuseStreaming } from './crypto-calls';

export const macVerify = defineOperation({
  codec,
  readOnly: true,
  async handle(ctx, p) {
    refuseStreaming(p);
    const r = await lifecycleCall(ctx, 'macVerify', 'MAC Verify')({
      caller: ctx.caller,
      uniqueIdentifier: targetUid(ctx, p.uniqueIdentifier),
      cryptographicParameters: paramsToProto(p.cryptographicParameters),
      data: orEmpty(p.data),
      macData: orEmpty(p.macData),
    });
    return { uniqueIdentifier: r.uniqueIdentifier, validityIndicator: r.validityIndicator };
  },
});
