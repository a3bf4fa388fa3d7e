// KMIP 1.4 §4.34 MAC Verify (errors: §11.32): recomputes the HMAC and
// compares in constant time; a MAC that does not match is a success with
// Validity Indicator Invalid.
import type { lifecycleV1 } from '@keywarden/proto';
import { ValidityIndicator } from '@keywarden/kmip';
import type { Core, OpContext } from '../core';
import { invalidField } from '../errors';
import { USES } from '../model/usage';
import { checkData, hmac, sameMac } from './crypto/engine';
import { loadForUse, secretBytes } from './crypto/keyring';
import { paramsFor } from './crypto/params';

export async function macVerify(core: Core, c: OpContext, req: lifecycleV1.MacVerifyRequest): Promise<lifecycleV1.MacVerifyResponse> {
  const k = await loadForUse(core, c, req.caller, req.uniqueIdentifier, USES.macVerify);
  const data = checkData(req.data, 'MAC Verify');
  if (req.macData.length === 0) throw invalidField('MAC Verify needs the MAC Data');
  const p = paramsFor(req.cryptographicParameters, k.rec);
  const key = await secretBytes(core, k);
  try {
    const valid = sameMac(hmac(k.rec.algorithm, key, p, data), Buffer.from(req.macData));
    return { uniqueIdentifier: k.rec.uid, validityIndicator: valid ? ValidityIndicator.Valid : ValidityIndicator.Invalid };
  } finally {
    key.fill(0);
  }
}
