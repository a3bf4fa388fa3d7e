// KMIP 1.4 §4.32 Signature Verify (errors: §11.30): with the tenant's
// public keys (Active, Deactivated or Compromised, Verify in their mask).
// A signature that does not verify is a success with Validity Indicator
// Invalid, not an error.
import type { lifecycleV1 } from '@keywarden/proto';
import { ValidityIndicator } from '@keywarden/kmip';
import type { Core, OpContext } from '../core';
import { featureNotSupported, invalidField } from '../errors';
import { USES } from '../model/usage';
import { checkData, verifyData } from './crypto/engine';
import { loadForUse, publicKey } from './crypto/keyring';
import { paramsFor } from './crypto/params';

export async function signatureVerify(core: Core, c: OpContext, req: lifecycleV1.SignatureVerifyRequest): Promise<lifecycleV1.SignatureVerifyResponse> {
  const k = await loadForUse(core, c, req.caller, req.uniqueIdentifier, USES.verify);
  if (req.digestedData.length > 0) throw featureNotSupported('Digested Data is not supported: send the Data itself');
  const data = checkData(req.data, 'Signature Verify');
  if (req.signatureData.length === 0) throw invalidField('Signature Verify needs the Signature Data');
  const p = paramsFor(req.cryptographicParameters, k.rec);
  const pub = publicKey(k);
  const valid = verifyData(pub.key, pub.shape, p, data, Buffer.from(req.signatureData));
  return { uniqueIdentifier: k.rec.uid, validityIndicator: valid ? ValidityIndicator.Valid : ValidityIndicator.Invalid };
}
