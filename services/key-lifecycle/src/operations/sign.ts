// KMIP 1.4 §4.31 Sign (errors: §11.29): RSA PKCS#1 v1.5 and PSS, ECDSA,
// with the tenant's Active private keys that allow Sign. Digested Data
// (signing a digest made elsewhere) is not supported.
import type { lifecycleV1 } from '@keywarden/proto';
import type { Core, OpContext } from '../core';
import { featureNotSupported } from '../errors';
import { USES } from '../model/usage';
import { checkData, signData } from './crypto/engine';
import { loadForUse, privateKey } from './crypto/keyring';
import { paramsFor } from './crypto/params';

export async function sign(core: Core, c: OpContext, req: lifecycleV1.SignRequest): Promise<lifecycleV1.SignResponse> {
  const k = await loadForUse(core, c, req.caller, req.uniqueIdentifier, USES.sign);
  if (req.digestedData.length > 0) throw featureNotSupported('Digested Data is not supported: send the Data itself');
  const data = checkData(req.data, 'Sign');
  const p = paramsFor(req.cryptographicParameters, k.rec);
  const priv = await privateKey(core, k);
  return { uniqueIdentifier: k.rec.uid, signatureData: signData(priv.key, priv.shape, p, data) };
}
