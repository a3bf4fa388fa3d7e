import type { Logger } from '@keywarden/common';
import type { wrappingV1 } from '@keywarden/proto';
import type { Breaker } from '../resilience/breaker';

/** Who a sealed key belongs to; every wrap binds (tenantId, uid) as AAD. */
export interface KeyContext {
  tenantId: string;
  uid: string;
}

/** Per-call inputs: the tenant's root key, its resolved credential, the deadline. */
export interface CallContext {
  crkId: string;
  /** IAM API key (keyprotect, hpcs) or user PIN (pkcs11); never logged. */
  credential: string;
  /** Epoch ms; Infinity when the caller set none. */
  deadline: number;
  log: Logger;
}

export interface Sealed {
  ref: Buffer;
  crkVersion: string;
}

export interface Unsealed {
  plaintext: Buffer;
  crkVersion: string;
  /** Present when the root key was rotated since the seal. */
  rewrapped?: Sealed;
}

export interface RootKeyInfo {
  state: wrappingV1.RootKeyState;
  currentVersion: string;
  lastRotated: string;
  detail: string;
}

/** A provider adapter: Key Protect, HPCS or PKCS#11, behind one breaker per endpoint and instance. */
export interface WrapProvider {
  /** For messages and metrics: "keyprotect", "hpcs" or "pkcs11". */
  readonly kind: string;
  /** The circuit breaker of this provider's endpoint and instance. */
  readonly breaker: Breaker;
  seal(c: CallContext, key: KeyContext, plaintext: Buffer): Promise<Sealed>;
  unseal(c: CallContext, key: KeyContext, ref: Buffer): Promise<Unsealed>;
  rewrap(c: CallContext, key: KeyContext, ref: Buffer): Promise<{ sealed: Sealed; changed: boolean }>;
  destroy(c: CallContext, key: KeyContext, ref: Buffer): Promise<void>;
  createRootKey(c: CallContext, name: string): Promise<{ crkId: string; crkVersion: string }>;
  checkRootKey(c: CallContext): Promise<RootKeyInfo>;
  rotateRootKey(c: CallContext): Promise<string>;
  deleteRootKey(c: CallContext, force: boolean): Promise<void>;
  close(): void;
}
