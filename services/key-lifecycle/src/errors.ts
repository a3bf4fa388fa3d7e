import { grpc, ServiceError } from '@keywarden/common';
import { ResultReason } from '@keywarden/kmip';

// KMIP failures as ServiceErrors: the gRPC status a caller of the API sees and
// the KMIP Result Reason the gateway puts on the wire. Reasons follow the
// KMIP 1.2 error tables (section 11) so a 1.x client gets the value its
// version defines.

const S = grpc.status;

/** 11.x "No object with the specified Unique Identifier exists" (also another tenant's uid). */
export function itemNotFound(uid: string): ServiceError {
  return new ServiceError(S.NOT_FOUND, `no object with unique identifier "${uid}"`, ResultReason.ItemNotFound);
}

export function invalidField(message: string): ServiceError {
  return new ServiceError(S.INVALID_ARGUMENT, message, ResultReason.InvalidField);
}

export function invalidMessage(message: string): ServiceError {
  return new ServiceError(S.INVALID_ARGUMENT, message, ResultReason.InvalidMessage);
}

export function permissionDenied(message: string): ServiceError {
  return new ServiceError(S.FAILED_PRECONDITION, message, ResultReason.PermissionDenied);
}

export function illegalOperation(message: string): ServiceError {
  return new ServiceError(S.FAILED_PRECONDITION, message, ResultReason.IllegalOperation);
}

export function indexOutOfBounds(message: string): ServiceError {
  return new ServiceError(S.OUT_OF_RANGE, message, ResultReason.IndexOutOfBounds);
}

export function attributeNotFound(message: string): ServiceError {
  return new ServiceError(S.NOT_FOUND, message, ResultReason.ItemNotFound);
}

/** KMIP 2.x: no instance has the value a Current Attribute names (only 2.x requests name instances by value). */
export function currentAttributeNotFound(message: string): ServiceError {
  return new ServiceError(S.NOT_FOUND, message, ResultReason.AttributeNotFound);
}

export function keyFormatNotSupported(message: string): ServiceError {
  return new ServiceError(S.INVALID_ARGUMENT, message, ResultReason.KeyFormatTypeNotSupported);
}

export function unavailable(message: string, cause?: unknown): ServiceError {
  return new ServiceError(S.UNAVAILABLE, message, ResultReason.GeneralFailure, { cause });
}

/** The caller's certificate is not (or no longer) registered. */
export function unknownCaller(): ServiceError {
  return new ServiceError(S.PERMISSION_DENIED, 'client certificate is not registered with any tenant', ResultReason.PermissionDenied);
}

// Admin API errors: gRPC status only, operator-readable text.
export const adminError = {
  notFound: (m: string) => new ServiceError(S.NOT_FOUND, m),
  exists: (m: string) => new ServiceError(S.ALREADY_EXISTS, m),
  invalid: (m: string) => new ServiceError(S.INVALID_ARGUMENT, m),
  precondition: (m: string) => new ServiceError(S.FAILED_PRECONDITION, m),
  denied: (m: string) => new ServiceError(S.PERMISSION_DENIED, m),
};
