// Any failure while serving a batch item becomes a KMIP Result Status,
// Reason and Message. Known failures keep their message; anything unexpected
// becomes General Failure with a fixed text (details go to the log only).
import { grpc, isGrpcError, kmipReasonOf } from '@keywarden/common';
import { Operation, ProtocolVersion, RequestBatchItem, ResultReason, ResultStatus, enumValueDefinedIn, isKmipError, versionKey } from '@keywarden/kmip';

export interface ItemResult {
  resultStatus: number;
  resultReason: number;
  resultMessage: string;
  /** True when the cause is ours (log it with details), not the client's. */
  unexpected: boolean;
}

export const GENERAL_FAILURE_TEXT = 'internal server error';

/** KMIP Result Reason for a lifecycle gRPC status when the service did not name one. */
const REASON_BY_CODE: Partial<Record<grpc.status, number>> = {
  [grpc.status.NOT_FOUND]: ResultReason.ItemNotFound,
  [grpc.status.PERMISSION_DENIED]: ResultReason.PermissionDenied,
  [grpc.status.UNAUTHENTICATED]: ResultReason.AuthenticationNotSuccessful,
  [grpc.status.INVALID_ARGUMENT]: ResultReason.InvalidField,
  [grpc.status.FAILED_PRECONDITION]: ResultReason.IllegalOperation,
  [grpc.status.UNIMPLEMENTED]: ResultReason.OperationNotSupported,
  [grpc.status.ALREADY_EXISTS]: ResultReason.IllegalOperation,
  [grpc.status.OUT_OF_RANGE]: ResultReason.IndexOutOfBounds,
};

export function toItemResult(err: unknown): ItemResult {
  if (isKmipError(err)) {
    return { resultStatus: err.resultStatus, resultReason: err.resultReason, resultMessage: err.message, unexpected: err.resultReason === ResultReason.GeneralFailure };
  }
  if (isGrpcError(err)) {
    const reason = kmipReasonOf(err) ?? REASON_BY_CODE[err.code as grpc.status];
    switch (err.code) {
      case grpc.status.UNAVAILABLE:
      case grpc.status.DEADLINE_EXCEEDED:
      case grpc.status.RESOURCE_EXHAUSTED:
        // The key service or its root-key provider is unreachable or slow: a
        // transient failure the client may retry; say so without internals.
        return { resultStatus: ResultStatus.OperationFailed, resultReason: reason ?? ResultReason.GeneralFailure, resultMessage: `key service temporarily unavailable: ${err.details}`, unexpected: true };
      case grpc.status.INTERNAL:
      case grpc.status.UNKNOWN:
      case grpc.status.DATA_LOSS:
        if (reason === undefined || reason === ResultReason.GeneralFailure) {
          return { resultStatus: ResultStatus.OperationFailed, resultReason: ResultReason.GeneralFailure, resultMessage: GENERAL_FAILURE_TEXT, unexpected: true };
        }
    }
    if (reason !== undefined) return { resultStatus: ResultStatus.OperationFailed, resultReason: reason, resultMessage: err.details, unexpected: false };
  }
  return { resultStatus: ResultStatus.OperationFailed, resultReason: ResultReason.GeneralFailure, resultMessage: GENERAL_FAILURE_TEXT, unexpected: true };
}

/**
 * The Result Reason to put on the wire for `item` in the response's version.
 * key-lifecycle names reasons from the KMIP 1.x error tables, and KMIP 2.0
 * dropped two of them (Illegal Operation, Index Out of Bounds) for precise
 * ones; a response must not carry a value its version does not define (the
 * encoder refuses it, which turned a plain client error into "internal server
 * error" for 2.x clients). A reason the version lacks becomes its counterpart
 * there for this operation, else General Failure; the message is kept.
 */
export function reasonForVersion(reason: number, item: RequestBatchItem, version: ProtocolVersion): number {
  const v = versionKey(version);
  if (v === undefined || enumValueDefinedIn('ResultReason', reason, v)) return reason;
  let mapped: number | undefined;
  const attributeName: string | undefined = item.payload?.attribute?.name;
  if (reason === ResultReason.IllegalOperation) {
    switch (item.operation) {
      // The one Illegal Operation of Get and Check: the key material was destroyed.
      case Operation.Get:
      case Operation.Check:
        mapped = ResultReason.ObjectDestroyed;
        break;
      case Operation.Activate:
      case Operation.Revoke:
      case Operation.Destroy:
        mapped = ResultReason.WrongKeyLifecycleState;
        break;
      case Operation.AddAttribute:
        mapped = attributeName === 'Name' ? ResultReason.NonUniqueNameAttribute : ResultReason.AttributeSingleValued;
        break;
      case Operation.ModifyAttribute:
        if (attributeName === 'Name') mapped = ResultReason.NonUniqueNameAttribute;
        break;
    }
  } else if (reason === ResultReason.AttributeNotFound) {
    // 2.x only; a 1.x client never names an instance by value, but if so: Item Not Found.
    mapped = ResultReason.ItemNotFound;
  } else if (reason === ResultReason.IndexOutOfBounds) {
    // key-lifecycle uses it for its per-object attribute instance limits.
    mapped = item.operation === Operation.AddAttribute ? ResultReason.ServerLimitExceeded : ResultReason.AttributeInstanceNotFound;
  }
  return mapped !== undefined && enumValueDefinedIn('ResultReason', mapped, v) ? mapped : ResultReason.GeneralFailure;
}
