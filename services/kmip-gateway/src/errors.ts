// Any failure while serving a batch item becomes a KMIP Result Status,
// Reason and Message. Known failures keep their message; anything unexpected
// becomes General Failure with a fixed text (details go to the log only).
import { grpc, isGrpcError, kmipReasonOf } from '@keywarden/common';
import { ResultReason, ResultStatus, isKmipError } from '@keywarden/kmip';

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
