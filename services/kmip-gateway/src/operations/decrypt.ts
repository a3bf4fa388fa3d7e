// Decrypt — KMIP 1.4 §4.30 (1.2+): AES-GCM, AES-CBC and RSA-OAEP with the
// tenant's keys, computed by key-lifecycle.
import { decrypt as codec } from '@keywarden/kmip';
import { defineOperation, targetUid } from './context';
import { lifecycleCall, orEmpty, paramsToProto, refuseStreaming } from './crypto-calls';

export const decrypt = defineOperation({
  codec,
  readOnly: true,
  async handle(ctx, p) {
    refuseStreaming(p);
    const r = await lifecycleCall(ctx, 'decrypt', 'Decrypt')({
      caller: ctx.caller,
      uniqueIdentifier: targetUid(ctx, p.uniqueIdentifier),
      cryptographicParameters: paramsToProto(p.cryptographicParameters),
      data: orEmpty(p.data),
      ivCounterNonce: orEmpty(p.ivCounterNonce),
      authenticatedEncryptionAdditionalData: orEmpty(p.authenticatedEncryptionAdditionalData),
      authenticatedEncryptionTag: orEmpty(p.authenticatedEncryptionTag),
    });
    // Decrypted data may be empty (an empty plaintext), and is still sent.
    return { uniqueIdentifier: r.uniqueIdentifier, data: Buffer.from(r.data) };
  },
});
