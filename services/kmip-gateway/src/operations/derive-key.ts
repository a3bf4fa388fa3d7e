// Derive Key — KMIP 1.4 §4.6: a new Symmetric Key or Secret Data from one
// base object (PBKDF2, NIST SP 800-108 counter mode, HKDF), computed and
// sealed by key-lifecycle. Undone by destroying the new object.
import { deriveKey as codec } from '@keywarden/kmip';
import { toProtoAttribute } from '../convert';
import { defineOperation, targetUid } from './context';
import { lifecycleCall, orEmpty, paramsToProto } from './crypto-calls';

export const deriveKey = defineOperation({
  codec,
  readOnly: false,
  async handle(ctx, p) {
    const d = p.derivationParameters;
    const r = await lifecycleCall(ctx, 'deriveKey', 'Derive Key')({
      caller: ctx.caller,
      objectType: p.objectType,
      // No base named: the ID Placeholder's (KMIP 1.4 §4.6).
      uniqueIdentifiers: p.uniqueIdentifiers.length ? p.uniqueIdentifiers : [targetUid(ctx, undefined)],
      derivationMethod: p.derivationMethod,
      cryptographicParameters: paramsToProto(d.cryptographicParameters),
      initializationVector: orEmpty(d.initializationVector),
      derivationData: orEmpty(d.derivationData),
      salt: orEmpty(d.salt),
      iterationCount: d.iterationCount ?? 0,
      attributes: p.attributes.map(toProtoAttribute),
    });
    ctx.idPlaceholder = r.uniqueIdentifier;
    return { uniqueIdentifier: r.uniqueIdentifier };
  },
  async undo(ctx, _p, res) {
    await ctx.backend.destroy({ caller: ctx.caller, uniqueIdentifier: res.uniqueIdentifier });
  },
});
