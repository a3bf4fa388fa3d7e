import { CryptographicUsageMask as U, ObjectType, State } from '@keywarden/kmip';
import { illegalObjectType, incompatibleUsageMask, objectDestroyed, wrongLifecycleState } from '../errors';
import type { KeyRecord } from './record';
import { isDestroyed, stateName } from './state';

// When a key may be used by a cryptographic operation (KMIP 1.4 §3.22, the
// state descriptions; §3.19 Cryptographic Usage Mask). Only an Active key
// protects (encrypts, signs, computes a MAC, wraps, derives); a Deactivated
// or Compromised key may still process what it protected earlier (decrypt,
// verify, verify a MAC, unwrap). A Pre-Active key is not used at all, and a
// destroyed one has no material left.

/** A use of a key, by the Cryptographic Usage Mask bit that allows it. */
export interface KeyUse {
  /** The mask bit the key's Cryptographic Usage Mask must have. */
  mask: number;
  /** What the operation is called in messages ("encrypt", "unwrap keys"). */
  what: string;
  /** Object types that can do it. */
  objectTypes: ReadonlySet<number>;
}

const SYM = ObjectType.SymmetricKey;

export const USES = {
  encrypt: { mask: U.Encrypt, what: 'encrypt', objectTypes: new Set([SYM, ObjectType.PublicKey]) },
  decrypt: { mask: U.Decrypt, what: 'decrypt', objectTypes: new Set([SYM, ObjectType.PrivateKey]) },
  sign: { mask: U.Sign, what: 'sign', objectTypes: new Set([ObjectType.PrivateKey]) },
  verify: { mask: U.Verify, what: 'verify signatures', objectTypes: new Set([ObjectType.PublicKey]) },
  mac: { mask: U.MACGenerate, what: 'compute MACs', objectTypes: new Set([SYM]) },
  macVerify: { mask: U.MACVerify, what: 'verify MACs', objectTypes: new Set([SYM]) },
  wrap: { mask: U.WrapKey, what: 'wrap keys', objectTypes: new Set([SYM, ObjectType.PublicKey]) },
  unwrap: { mask: U.UnwrapKey, what: 'unwrap keys', objectTypes: new Set([SYM, ObjectType.PrivateKey]) },
  derive: { mask: U.DeriveKey, what: 'derive keys', objectTypes: new Set([SYM, ObjectType.SecretData]) },
} satisfies Record<string, KeyUse>;

/** Uses that process what a key protected: allowed on Deactivated and Compromised keys too. */
export const PROCESS_USES = U.Decrypt | U.Verify | U.MACVerify | U.UnwrapKey;

const TYPE_NAMES: Record<number, string> = {
  [ObjectType.SymmetricKey]: 'a symmetric key', [ObjectType.PublicKey]: 'a public key', [ObjectType.PrivateKey]: 'a private key',
  [ObjectType.SecretData]: 'secret data', [ObjectType.Certificate]: 'a certificate', [ObjectType.OpaqueObject]: 'an opaque object',
};

export const objectTypeName = (t: number): string => TYPE_NAMES[t] ?? `an object of type ${t}`;

/**
 * Refuses a use the key may not serve: its type (Illegal Object Type), its
 * state (Object Destroyed, Wrong Key Lifecycle State) or its mask
 * (Incompatible Cryptographic Usage Mask). `r` has its due transitions
 * applied. `role` names the key in messages ("the wrapping key").
 */
export function checkUse(r: KeyRecord, use: KeyUse, role = 'the key'): void {
  if (!use.objectTypes.has(r.objectType)) throw illegalObjectType(`${role} is ${objectTypeName(r.objectType)}, which cannot ${use.what}`);
  if (isDestroyed(r.state)) throw objectDestroyed(`${role} has been destroyed`);
  if (r.state === State.PreActive) throw wrongLifecycleState(`${role} is Pre-Active: activate it before using it`);
  if (r.state !== State.Active && (use.mask & PROCESS_USES) === 0) {
    throw wrongLifecycleState(`${role} is ${stateName(r.state)}: it may only decrypt, verify and unwrap what it protected, not ${use.what}`);
  }
  if ((r.usageMask & use.mask) !== use.mask) {
    throw incompatibleUsageMask(`${role}'s Cryptographic Usage Mask (${r.usageMask}) does not allow it to ${use.what} (bit ${use.mask})`);
  }
}
