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

/**
 * More attribute instances than the server keeps. KMIP 1.x names this case
 * precisely (Index Out of Bounds, KMIP 1.4 §11.15); 2.x has only Server
 * Limit Exceeded for it, which the gateway answers a 2.x client with.
 */
export function serverLimitExceeded(message: string): ServiceError {
  return new ServiceError(S.OUT_OF_RANGE, message, R.IndexOutOfBounds);
}

/** A tenant quota (docs/key-lifecycle.md, "Quotas"): General Failure with this message to a 1.x client. */
export function quotaExceeded(message: string): ServiceError {
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

/** The key's Cryptographic Usage Mask does not allow the operation (a 1.x client reads Permission Denied). */
export function incompatibleUsageMask(message: string): ServiceError {
  return new ServiceError(S.FAILED_PRECONDITION, message, R.IncompatibleCryptographicUsageMask);
}

/** Cryptographic Parameters that do not fit the key or the operation (a 1.x client reads Invalid Field). */
export function badCryptographicParameters(message: string): ServiceError {
  return new ServiceError(S.INVALID_ARGUMENT, message, R.BadCryptographicParameters);
}

/** Cryptographic Parameters this server does not implement (a 1.x client reads Invalid Field). */
export function unsupportedCryptographicParameters(message: string): ServiceError {
  return new ServiceError(S.INVALID_ARGUMENT, message, R.UnsupportedCryptographicParameters);
}

/** Decryption, unwrapping or verification of the client's data failed (a wrong key, tag or padding). */
export function cryptographicFailure(message: string): ServiceError {
  return new ServiceError(S.INVALID_ARGUMENT, message, R.CryptographicFailure);
}

/** A mode that needs an IV or nonce from the client got none (a 1.x client reads Missing Data). */
export function missingInitializationVector(message: string): ServiceError {
  return new ServiceError(S.INVALID_ARGUMENT, message, R.MissingInitializationVector);
}

/** A field the request needs is absent. */
export function missingData(message: string): ServiceError {
  return new ServiceError(S.INVALID_ARGUMENT, message, R.MissingData);
}

/** A feature of the protocol this server does not implement (streaming, MAC-wrapping, ...). */
export function featureNotSupported(message: string): ServiceError {
  return new ServiceError(S.UNIMPLEMENTED, message, R.FeatureNotSupported);
}

/** The wrapping (or unwrapping) key named does not exist in the tenant (a 1.x client reads Cryptographic Failure). */
export function wrappingObjectNotFound(uid: string): ServiceError {
  return new ServiceError(S.NOT_FOUND, `no wrapping key with unique identifier "${uid}"`, R.WrappingObjectNotFound);
}

/** The wrapping (or unwrapping) key has been destroyed (a 1.x client reads Cryptographic Failure). */
export function wrappingObjectDestroyed(message: string): ServiceError {
  return new ServiceError(S.FAILED_PRECONDITION, message, R.WrappingObjectDestroyed);
}

/** The Encoding Option of a key wrapping cannot be used (No Encoding of a structured key). */
export function encodingOptionError(message: string): ServiceError {
  return new ServiceError(S.INVALID_ARGUMENT, message, R.EncodingOptionError);
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
