import { grpc, ServiceError } from '@keywarden/common';
import { ResultReason } from '@keywarden/kmip';

// KMIP failures as ServiceErrors: the gRPC status a caller of the API sees and
// the KMIP Result Reason the gateway puts on the wire. Reasons are keywarden's
// one vocabulary, the newest KMIP version's (KMIP 2.1 §11.46): where 2.x names
// a case precisely (Non-Unique Name Attribute, Object Destroyed, Wrong Key
// Lifecycle State, …) that name is raised, and the gateway maps it down for a
// 1.x client as the KMIP 1.4 §11 error tables name the case (reasonForVersion
// in libs/kmip). docs/key-lifecycle.md, "Errors", lists every case.

const S = grpc.status;
const R = ResultReason;

/** "No object with the specified Unique Identifier exists" (also another tenant's uid). */
export function itemNotFound(uid: string): ServiceError {
  return new ServiceError(S.NOT_FOUND, `no object with unique identifier "${uid}"`, R.ItemNotFound);
}

export function invalidField(message: string): ServiceError {
  return new ServiceError(S.INVALID_ARGUMENT, message, R.InvalidField);
}

export function invalidMessage(message: string): ServiceError {
  return new ServiceError(S.INVALID_ARGUMENT, message, R.InvalidMessage);
}

export function permissionDenied(message: string): ServiceError {
  return new ServiceError(S.FAILED_PRECONDITION, message, R.PermissionDenied);
}

/** The object's state does not allow the operation (Activate, Revoke, Destroy). */
export function wrongLifecycleState(message: string): ServiceError {
  return new ServiceError(S.FAILED_PRECONDITION, message, R.WrongKeyLifecycleState);
}

/** The object's key material was destroyed: only its attributes remain. */
export function objectDestroyed(message: string): ServiceError {
  return new ServiceError(S.FAILED_PRECONDITION, message, R.ObjectDestroyed);
}

/** The operation does not apply to this object type. */
export function illegalObjectType(message: string): ServiceError {
  return new ServiceError(S.FAILED_PRECONDITION, message, R.IllegalObjectType);
}

/** Another object of the tenant has this Name (Create, Register, Add and Modify Attribute alike). */
export function nonUniqueName(name: string): ServiceError {
  return new ServiceError(S.ALREADY_EXISTS, `another object already has the Name "${name}"`, R.NonUniqueNameAttribute);
}

/** A single-instance attribute the object already has. */
export function attributeSingleValued(message: string): ServiceError {
  return new ServiceError(S.FAILED_PRECONDITION, message, R.AttributeSingleValued);
}

/** An attribute a client may not add, change or delete. */
export function attributeReadOnly(message: string): ServiceError {
  return new ServiceError(S.FAILED_PRECONDITION, message, R.AttributeReadOnly);
}

/** More attribute instances than the server keeps. */
export function serverLimitExceeded(message: string): ServiceError {
  return new ServiceError(S.OUT_OF_RANGE, message, R.ServerLimitExceeded);
}

/** The object has no such attribute, or (KMIP 2.x Current Attribute) no instance with that value. */
export function attributeNotFound(message: string): ServiceError {
  return new ServiceError(S.NOT_FOUND, message, R.AttributeNotFound);
}

/** The attribute has no instance with that Attribute Index. */
export function attributeInstanceNotFound(message: string): ServiceError {
  return new ServiceError(S.NOT_FOUND, message, R.AttributeInstanceNotFound);
}

export function keyFormatNotSupported(message: string): ServiceError {
  return new ServiceError(S.INVALID_ARGUMENT, message, R.KeyFormatTypeNotSupported);
}

export function unavailable(message: string, cause?: unknown): ServiceError {
  return new ServiceError(S.UNAVAILABLE, message, R.GeneralFailure, { cause });
}

/** The caller's certificate is not (or no longer) registered. */
export function unknownCaller(): ServiceError {
  return new ServiceError(S.PERMISSION_DENIED, 'client certificate is not registered with any tenant', R.PermissionDenied);
}

// Admin API errors: gRPC status only, operator-readable text.
export const adminError = {
  notFound: (m: string) => new ServiceError(S.NOT_FOUND, m),
  exists: (m: string) => new ServiceError(S.ALREADY_EXISTS, m),
  invalid: (m: string) => new ServiceError(S.INVALID_ARGUMENT, m),
  precondition: (m: string) => new ServiceError(S.FAILED_PRECONDITION, m),
  denied: (m: string) => new ServiceError(S.PERMISSION_DENIED, m),
};
