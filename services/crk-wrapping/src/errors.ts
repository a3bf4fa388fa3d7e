import { grpc, ServiceError } from '@keywarden/common';
import { ResultReason } from '@keywarden/kmip';

/**
 * Why a wrapping call failed, machine-readable. Sent as trailing metadata
 * "wrapping-reason" next to the gRPC status, so key-lifecycle can tell causes
 * apart that share a status (docs/crk-wrapping.md, "Error mapping").
 */
export type Reason =
  | 'CRK_DELETED' // root key deleted (restorable for 30 days) or destroyed: the tenant's keys are revoked
  | 'CRK_NOT_FOUND' // root key purged or never existed
  | 'CRK_DISABLED' // root key suspended/deactivated, or its wrap/unwrap use is switched off in the HSM
  | 'CRK_PROTECTED' // delete refused while the provider reports registrations
  | 'ROTATION_NOT_PERMITTED' // rotated too recently for the provider
  | 'INSTANCE_POLICY' // an instance policy of the provider forbids what keywarden needs (keyCreateImportAccess)
  | 'AAD_MISMATCH' // sealed key corrupted, or bound to another (tenant, uid)
  | 'SEALED_KEY_DELETED' // the standard key holding this KEK was deleted
  | 'SEALED_KEY_NOT_FOUND' // the standard key holding this KEK does not exist
  | 'AUTH_FAILED' // IAM rejected the API key, the provider rejected the token, or the HSM rejected the PIN
  | 'FORBIDDEN' // authenticated, but the provider refuses this caller
  | 'RATE_LIMITED' // the provider kept answering 429
  | 'PROVIDER_UNAVAILABLE' // network error, timeout or 5xx after retries
  | 'BREAKER_OPEN' // failing fast: the circuit breaker of this endpoint is open
  | 'BAD_REQUEST' // the request to crk-wrapping is invalid
  | 'PROVIDER_REJECTED' // the provider refused the request as invalid (4xx)
  | 'PROVIDER_ERROR'; // the provider answered something unexpected

export const REASON_METADATA = 'wrapping-reason';

/**
 * Error mapping (also in docs/crk-wrapping.md):
 *
 * | cause                                   | gRPC status          | reason                    | KMIP reason           |
 * |-----------------------------------------|----------------------|---------------------------|-----------------------|
 * | CRK deleted/destroyed (revoked)         | FAILED_PRECONDITION  | CRK_DELETED               | Wrapping Object Destroyed |
 * | CRK purged or never existed             | FAILED_PRECONDITION  | CRK_NOT_FOUND             | Wrapping Object Not Found |
 * | CRK disabled/suspended/deactivated      | PERMISSION_DENIED    | CRK_DISABLED              | Permission Denied     |
 * | wrong AAD / unprocessable ciphertext    | DATA_LOSS            | AAD_MISMATCH              | Cryptographic Failure |
 * | standard key deleted / missing          | NOT_FOUND            | SEALED_KEY_DELETED/_NOT_FOUND | Item Not Found    |
 * | IAM/API key/token/PIN rejected          | UNAUTHENTICATED      | AUTH_FAILED               | –                     |
 * | provider refuses the caller (403)       | PERMISSION_DENIED    | FORBIDDEN                 | –                     |
 * | rate limited (429 after retries)        | RESOURCE_EXHAUSTED   | RATE_LIMITED              | –                     |
 * | outage: network, timeout, 5xx           | UNAVAILABLE          | PROVIDER_UNAVAILABLE      | –                     |
 * | open circuit breaker                    | UNAVAILABLE          | BREAKER_OPEN              | –                     |
 * | invalid request / provider 4xx          | INVALID_ARGUMENT     | BAD_REQUEST, PROVIDER_REJECTED | –                |
 * | delete refused (registrations), rotation too soon | FAILED_PRECONDITION | CRK_PROTECTED, ROTATION_NOT_PERMITTED | – |
 * | instance policy forbids imported standard keys  | FAILED_PRECONDITION | INSTANCE_POLICY       | –                     |
 * | unexpected answer (not JSON, too large, fields missing) | INTERNAL | PROVIDER_ERROR       | –                     |
 *
 * Which provider answer leads to which reason, call by call: docs/crk-wrapping.md, "Provider calls".
 * KMIP reasons are keywarden's one vocabulary (KMIP 2.1 names; the gateway
 * maps them down for 1.x clients: the root key's two become Cryptographic
 * Failure there).
 */
const STATUS: Record<Reason, grpc.status> = {
  CRK_DELETED: grpc.status.FAILED_PRECONDITION,
  CRK_NOT_FOUND: grpc.status.FAILED_PRECONDITION,
  CRK_DISABLED: grpc.status.PERMISSION_DENIED,
  CRK_PROTECTED: grpc.status.FAILED_PRECONDITION,
  ROTATION_NOT_PERMITTED: grpc.status.FAILED_PRECONDITION,
  INSTANCE_POLICY: grpc.status.FAILED_PRECONDITION,
  AAD_MISMATCH: grpc.status.DATA_LOSS,
  SEALED_KEY_DELETED: grpc.status.NOT_FOUND,
  SEALED_KEY_NOT_FOUND: grpc.status.NOT_FOUND,
  AUTH_FAILED: grpc.status.UNAUTHENTICATED,
  FORBIDDEN: grpc.status.PERMISSION_DENIED,
  RATE_LIMITED: grpc.status.RESOURCE_EXHAUSTED,
  PROVIDER_UNAVAILABLE: grpc.status.UNAVAILABLE,
  BREAKER_OPEN: grpc.status.UNAVAILABLE,
  BAD_REQUEST: grpc.status.INVALID_ARGUMENT,
  PROVIDER_REJECTED: grpc.status.INVALID_ARGUMENT,
  PROVIDER_ERROR: grpc.status.INTERNAL,
};

/** The KMIP Result Reason of each cause a KMIP client should be told precisely; the others get key-lifecycle's. */
const KMIP: Partial<Record<Reason, number>> = {
  CRK_DELETED: ResultReason.WrappingObjectDestroyed,
  CRK_NOT_FOUND: ResultReason.WrappingObjectNotFound,
  CRK_DISABLED: ResultReason.PermissionDenied,
  AAD_MISMATCH: ResultReason.CryptographicFailure,
  SEALED_KEY_DELETED: ResultReason.ItemNotFound,
  SEALED_KEY_NOT_FOUND: ResultReason.ItemNotFound,
};

/** A failure with an operator-readable message; never carries key material or credentials. */
export class WrappingError extends ServiceError {
  constructor(public readonly reason: Reason, message: string, options?: { cause?: unknown }) {
    super(STATUS[reason], message, KMIP[reason], options);
  }

  // ServiceError's own check (its name, across Jest realms) would take every
  // ServiceError for a WrappingError: this one also wants the reason.
  static override [Symbol.hasInstance](v: unknown): boolean {
    return isWrappingError(v);
  }

  override toStatus(): Partial<grpc.StatusObject> {
    const s = super.toStatus();
    s.metadata?.set(REASON_METADATA, this.reason);
    return s;
  }
}

export function isWrappingError(e: unknown): e is WrappingError {
  return e instanceof ServiceError && typeof (e as { reason?: unknown }).reason === 'string';
}

export function badRequest(message: string): WrappingError {
  return new WrappingError('BAD_REQUEST', message);
}

/** The reason a grpc-js client error carried, if any. */
export function reasonOf(e: unknown): Reason | undefined {
  const md = (e as { metadata?: grpc.Metadata } | undefined)?.metadata;
  const v = md?.get(REASON_METADATA)[0];
  return v === undefined ? undefined : (v.toString() as Reason);
}
