import { ObjectType, RevocationReasonCode, State } from '@keywarden/kmip';
import { illegalObjectType, invalidField, objectDestroyed, wrongLifecycleState } from '../errors';
import type { KeyRecord } from './record';

// The object state machine of KMIP 1.4 §3.22 (transitions numbered as
// there). Refusals carry KMIP 2.1's reasons (Wrong Key Lifecycle State,
// Object Destroyed), which a 1.x client reads as KMIP 1.4 §11 names them
// (Activate §11.20, Revoke §11.21, Destroy §11.22).

export const STATE_NAMES: Record<number, string> = {
  [State.PreActive]: 'Pre-Active',
  [State.Active]: 'Active',
  [State.Deactivated]: 'Deactivated',
  [State.Compromised]: 'Compromised',
  [State.Destroyed]: 'Destroyed',
  [State.DestroyedCompromised]: 'Destroyed Compromised',
};

export const stateName = (s: number): string => STATE_NAMES[s] ?? `state ${s}`;

/** The states of an object whose key material no longer exists. */
export const DESTROYED_STATES: readonly number[] = [State.Destroyed, State.DestroyedCompromised];
export const isDestroyed = (s: number): boolean => s === State.Destroyed || s === State.DestroyedCompromised;

const CRYPTOGRAPHIC_OBJECTS: ReadonlySet<number> = new Set([
  ObjectType.Certificate, ObjectType.SymmetricKey, ObjectType.PublicKey, ObjectType.PrivateKey,
  ObjectType.SplitKey, ObjectType.SecretData, ObjectType.PGPKey,
]);

/**
 * Applies the date-driven transitions that are due at `now` (transition 4:
 * Activation Date reached; transition 6: Deactivation Date reached). Returns
 * true when the record changed.
 */
export function applyDueTransitions(r: KeyRecord, now: number): boolean {
  let changed = false;
  if (r.state === State.PreActive && r.activationDate !== undefined && r.activationDate <= now) {
    r.state = State.Active;
    changed = true;
  }
  if (r.state === State.Active && r.deactivationDate !== undefined && r.deactivationDate <= now) {
    r.state = State.Deactivated;
    changed = true;
  }
  return changed;
}

/** When the next date-driven transition falls due, if one is scheduled. */
export function nextTransitionAt(r: KeyRecord): number | undefined {
  if (r.state === State.PreActive && r.activationDate !== undefined) return r.activationDate;
  if (r.state === State.Active && r.deactivationDate !== undefined) return r.deactivationDate;
  return undefined;
}

/** 4.19 Activate: Pre-Active only; sets the Activation Date to now. */
export function activate(r: KeyRecord, now: number): void {
  if (!CRYPTOGRAPHIC_OBJECTS.has(r.objectType)) throw illegalObjectType('only cryptographic objects can be activated');
  if (r.state !== State.PreActive) {
    throw wrongLifecycleState(`object is ${stateName(r.state)}; only a Pre-Active object can be activated`);
  }
  r.state = State.Active;
  r.activationDate = now;
  // A Deactivation Date already passed applies at once (transition 6).
  applyDueTransitions(r, now);
}

export function isCompromiseReason(code: number): boolean {
  return code === RevocationReasonCode.KeyCompromise || code === RevocationReasonCode.CACompromise;
}

export function validRevocationReason(code: number): boolean {
  return (code >= RevocationReasonCode.Unspecified && code <= RevocationReasonCode.PrivilegeWithdrawn) || code >= 0x80000000;
}

/**
 * 4.20 Revoke. Key Compromise / CA Compromise: Pre-Active, Active, Deactivated
 * -> Compromised (transitions 3, 5, 8); Destroyed -> Destroyed Compromised
 * (10); sets the Compromise Date. Any other reason: Active -> Deactivated
 * (6) and sets the Deactivation Date. No other transition is permitted.
 */
export function revoke(r: KeyRecord, code: number, message: string | undefined, occurrence: number | undefined, now: number): void {
  if (!validRevocationReason(code)) throw invalidField(`revocation reason code ${code} is not recognized`);
  if (!CRYPTOGRAPHIC_OBJECTS.has(r.objectType)) throw illegalObjectType('only cryptographic objects can be revoked');
  if (isCompromiseReason(code)) {
    if (r.state === State.PreActive || r.state === State.Active || r.state === State.Deactivated) r.state = State.Compromised;
    else if (r.state === State.Destroyed) r.state = State.DestroyedCompromised;
    else throw wrongLifecycleState(`object is already ${stateName(r.state)}`);
    r.compromiseDate = now;
    // Required by 4.20 for Key Compromise; when a client omits it the server records "now".
    r.compromiseOccurrenceDate = occurrence && occurrence > 0 ? occurrence : now;
  } else {
    if (r.state !== State.Active) {
      throw wrongLifecycleState(`object is ${stateName(r.state)}; only an Active object can be revoked for a reason other than compromise`);
    }
    r.state = State.Deactivated;
    r.deactivationDate = now;
  }
  r.revocationReason = message ? { code, message } : { code };
}

/**
 * 4.21 Destroy: Pre-Active and Deactivated -> Destroyed (transitions 2, 7);
 * Compromised -> Destroyed Compromised (9). An Active object must be revoked
 * first; destroying twice is refused (Object Destroyed; Permission Denied
 * in KMIP 1.4 §11.22).
 */
export function destroy(r: KeyRecord, now: number): void {
  if (isDestroyed(r.state)) throw objectDestroyed('object has already been destroyed');
  if (r.state === State.PreActive || r.state === State.Deactivated) r.state = State.Destroyed;
  else if (r.state === State.Compromised) r.state = State.DestroyedCompromised;
  else throw wrongLifecycleState(`object is ${stateName(r.state)}; revoke it before destroying it`);
  r.destroyDate = now;
}
