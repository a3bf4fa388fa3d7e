// Encrypt — KMIP 1.4 §4.29 (1.2+): AES-GCM, AES-CBC and RSA-OAEP with the
// tenant's keys, computed by key-lifecycle. AES-GCM's tag travels in the
// Authenticated Encryption Tag, a KMIP 1.4 field: an older version cannot
// carry it, so GCM needs 1.4 or later.
import { encrypt as codec, KmipError, ResultReason, Tag, tagDefinedIn, versionKey } from '@keywarden/kmip';
import { defineOperation, targetUid } from './context';
import { lifecycleCall, nonEmpty, orEmpty, paramsToProto, refuseStreaming } from './crypto-calls';

export const encrypt = defineOperation({
  codec,
  readOnly: true,
  async handle(ctx, p) {
    refuseStreaming(p);
    const r = await lifecycleCall(ctx, 'encrypt', 'Encrypt')({
      caller: ctx.caller,
      uniqueIdentifier: targetUid(ctx, p.uniqueIdentifier),
      cryptographicParameters: paramsToProto(p.cryptographicParameters),
      data: orEmpty(p.data),
      ivCounterNonce: orEmpty(p.ivCounterNonce),
      authenticatedEncryptionAdditionalData: orEmpty(p.authenticatedEncryptionAdditionalData),
    });
    const tag = nonEmpty(r.authenticatedEncryptionTag);
    if (tag && !tagDefinedIn(Tag.AuthenticatedEncryptionTag, versionKey(ctx.version) ?? '1.0')) {
      throw new KmipError(ResultReason.FeatureNotSupported, 'authenticated encryption (GCM) needs KMIP 1.4 or later, which carries its Authenticated Encryption Tag');
    }
    return { uniqueIdentifier: r.uniqueIdentifier, data: nonEmpty(r.data), ivCounterNonce: nonEmpty(r.ivCounterNonce), authenticatedEncryptionTag: tag };
  },
});
