// Sign — KMIP 1.4 §4.31 (1.2+): RSA PKCS#1 v1.5 and PSS, ECDSA, with the
// tenant's private keys, computed by key-lifecycle.
import { sign as codec } from '@keywarden/kmip';
import { defineOperation, targetUid } from './context';
import { lifecycleCall, nonEmpty, orEmpty, paramsToProto, refuseStreaming } from './crypto-calls';

export const sign = defineOperation({
  codec,
  readOnly: true,
  async handle(ctx, p) {
    refuseStreaming(p);
    const r = await lifecycleCall(ctx, 'sign', 'Sign')({
      caller: ctx.caller,
      uniqueIdentifier: targetUid(ctx, p.uniqueIdentifier),
      cryptographicParameters: paramsToProto(p.cryptographicParameters),
      data: orEmpty(p.data),
      digestedData: orEmpty(p.digestedData),
    });
    return { uniqueIdentifier: r.uniqueIdentifier, signatureData: nonEmpty(r.signatureData) };
  },
});
