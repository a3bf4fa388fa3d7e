import type { StoredValue } from './values';

// One managed object as stored in Redis. Never holds secret material: only
// the opaque sealed reference crk-wrapping returned, which is useless without
// the tenant's root key in the provider. Public keys and certificates, which
// are not secret, keep their material in the record (publicMaterial).

export interface AttributeInstance {
  /** Attribute Index: assigned by the server, never reused or renumbered (KMIP 1.2 2.1.1). */
  i: number;
  v: StoredValue;
}

export interface AttributeBag {
  /** Next Attribute Index to assign. */
  next: number;
  items: AttributeInstance[];
}

export interface RevocationReason {
  code: number;
  message?: string;
}

export interface KeyRecord {
  uid: string;
  tenant: string;
  /**
   * Fingerprint of the certificate that created or registered the object
   * ("#<n>", the tenant's number for it, in a record read for the Get path:
   * Store.getObject gives the fingerprint).
   */
  createdBy: string;
  /** Milliseconds since the epoch: the Locate and listing order. */
  createdMs: number;
  objectType: number;
  state: number;
  algorithm?: number;
  length?: number;
  usageMask: number;
  /** Key Format Type of the material as created or registered. */
  keyFormatType: number;
  secretDataType?: number;
  /** Certificate: KMIP Certificate Type (1 X.509). */
  certificateType?: number;
  /** Opaque Object: KMIP Opaque Data Type. */
  opaqueDataType?: number;
  operationPolicyName?: string;

  // KMIP dates, seconds since the epoch.
  initialDate: number;
  lastChangeDate: number;
  originalCreationDate?: number;
  activationDate?: number;
  deactivationDate?: number;
  processStartDate?: number;
  protectStopDate?: number;
  destroyDate?: number;
  compromiseDate?: number;
  compromiseOccurrenceDate?: number;
  revocationReason?: RevocationReason;

  /** Client-managed attributes (Name, Object Group, Link, x-..., ...) by name. */
  attrs: Record<string, AttributeBag>;

  /** Base64 of the sealed reference; removed once the sealed object is destroyed. */
  sealedRef?: string;
  /**
   * Public Key: base64 of its SubjectPublicKeyInfo (DER); Certificate: base64
   * of the certificate (DER). Not secret, so stored as it is; objects that
   * have it have no sealed reference.
   */
  publicMaterial?: string;
  crkVersion: string;
  /** Destroy is done in Redis but the sealed object still awaits removal in the provider. */
  sealedDestroyPending?: boolean;
  /**
   * The object's number within its tenant, in creation order: what the
   * indexes hold instead of the uid (store/indexes.ts). Given by the store
   * on the first write; absent on a record not yet stored.
   */
  oid?: number;
}

export function cloneRecord(r: KeyRecord): KeyRecord {
  return structuredClone(r);
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);
