// MAC — KMIP 1.4 §4.33 (1.2+): HMAC with the tenant's HMAC keys, computed by
// key-lifecycle.
import { mac as codec } from '@keywarden/kmip';
import { defineOperation, targetUid } from './context';
import { lifecycleCall, nonEmpty, orEmpty, paramsToProto, refuseStreaming } from './crypto-calls';

export const mac = defineOperation({
  codec,
  readOnly: true,
  async handle(ctx, p) {
    refuseStreaming(p);
    const r = await lifecycleCall(ctx, 'mac', 'MAC')({
      caller: ctx.caller,
      uniqueIdentifier: targetUid(ctx, p.uniqueIdentifier),
      cryptographicParameters: paramsToProto(p.cryptographicParameters),
      data: orEmpty(p.data),
    });
    return { uniqueIdentifier: r.uniqueIdentifier, macData: nonEmpty(r.macData) };
  },
});
