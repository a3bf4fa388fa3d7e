// KMIP 1.4 §4.10 Check (errors: §11.11). No leases or usage limits are
// granted by this server, so those requests pass; the usage mask is checked
// against the object's mask and its state.
import type { lifecycleV1 } from '@keywarden/proto';
import { CryptographicUsageMask as U, State } from '@keywarden/kmip';
import type { Core, OpContext } from '../core';
import { objectDestroyed, permissionDenied } from '../errors';
import { isDestroyed, stateName } from '../model/state';
import { requireUid } from './common';

/** Uses that only process protected data, allowed on Deactivated and Compromised objects (3.22). */
const PROCESS_ONLY = U.Decrypt | U.Verify | U.UnwrapKey | U.MACVerify;

export async function check(core: Core, c: OpContext, req: lifecycleV1.CheckRequest): Promise<lifecycleV1.CheckResponse> {
  const uid = requireUid(req.uniqueIdentifier);
  c.uid = uid;
  const ctx = await core.resolve(c, req.caller, uid);
  const rec = core.current(ctx.object, uid);
  if (isDestroyed(rec.state)) throw objectDestroyed('the object has been destroyed');
  const mask = req.cryptographicUsageMask;
  if (mask !== 0) {
    if ((rec.usageMask & mask) !== mask) throw permissionDenied(`the object's Cryptographic Usage Mask (${rec.usageMask}) does not allow ${mask}`);
    if (rec.state === State.PreActive) throw permissionDenied('the object is Pre-Active and may not be used yet');
    if ((rec.state === State.Deactivated || rec.state === State.Compromised) && (mask & ~PROCESS_ONLY) !== 0) {
      throw permissionDenied(`the object is ${stateName(rec.state)}: only decrypt, verify and unwrap uses are allowed`);
    }
  }
  return { uniqueIdentifier: uid };
}
