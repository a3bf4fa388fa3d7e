// Any failure while serving a batch item becomes a KMIP Result Status,
// Reason and Message. A client's own error (unknown object, wrong state, bad
// field, no permission) keeps the message key-lifecycle wrote for it. A
// failure of ours or of the root-key provider gets a fixed text and a
// correlation id: its details (addresses, instance ids, gRPC transport
// errors) name internals and go to the gateway's log only, under that id.
// The reason is the one key-lifecycle named, in keywarden's one vocabulary
// (libs/kmip reasons.ts); the Dispatcher maps it to the response's version.
import { randomBytes } from 'crypto';
import { Logger, detailOf, grpc, isGrpcError, kmipReasonOf } from '@keywarden/common';
import { ResultReason, ResultStatus, isKmipError } from '@keywarden/kmip';

export interface ItemResult {
  resultStatus: number;
  resultReason: number;
  resultMessage: string;
  /** True when the cause is ours or the provider's, not the client's: log it with details under `ref`. */
  unexpected: boolean;
  /** Correlation id of an unexpected failure: in the client's message and in the log line. */
  ref?: string;
  /** A transient failure (a service or the provider unreachable, slow, overloaded): logged at warn, not error. */
  transient?: boolean;
}

export const GENERAL_FAILURE_TEXT = 'internal server error';
export const UNAVAILABLE_TEXT = 'key service temporarily unavailable; retry';

/** A new correlation id: 8 hex digits, random per failure. */
export function newRef(): string {
  return randomBytes(4).toString('hex');
}

/** The client's text for an internal failure: fixed, plus the correlation id. */
export function internalErrorText(ref: string): string {
  return `${GENERAL_FAILURE_TEXT} (ref ${ref})`;
}

/** The client's text for a transient failure: fixed, plus the correlation id. */
export function unavailableText(ref: string): string {
  return `${UNAVAILABLE_TEXT} (ref ${ref})`;
}

/**
 * gRPC statuses of a client's own error: key-lifecycle's message for these
 * is meant for the client. key-lifecycle names the reason of each; this is
 * the reason when a status arrives without one (reasonForVersion maps the
 * two KMIP 1.x-only values here for a 2.x client).
 */
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

/** Statuses of a key service or provider that is unreachable, slow or overloaded: the client may retry. */
const TRANSIENT = new Set<number>([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.RESOURCE_EXHAUSTED, grpc.status.ABORTED]);

function failed(resultReason: number, resultMessage: string): ItemResult {
  return { resultStatus: ResultStatus.OperationFailed, resultReason, resultMessage, unexpected: false };
}

function internal(resultReason: number = ResultReason.GeneralFailure): ItemResult {
  const ref = newRef();
  return { resultStatus: ResultStatus.OperationFailed, resultReason, resultMessage: internalErrorText(ref), unexpected: true, ref, transient: false };
}

function transient(resultReason: number): ItemResult {
  const ref = newRef();
  return { resultStatus: ResultStatus.OperationFailed, resultReason, resultMessage: unavailableText(ref), unexpected: true, ref, transient: true };
}

/**
 * The KMIP result for a failure. Client errors (a KmipError other than
 * General Failure; a gRPC status in REASON_BY_CODE) keep their message.
 * UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED and ABORTED become the
 * fixed "temporarily unavailable" text; INTERNAL, UNKNOWN, DATA_LOSS, any
 * other status and anything else thrown become "internal server error" —
 * both with a new correlation id (`ref`), and with the KMIP Result Reason
 * the service named, if any. Log unexpected results with logItemFailure.
 */
export function toItemResult(err: unknown): ItemResult {
  if (isKmipError(err)) {
    if (err.resultReason === ResultReason.GeneralFailure) return internal();
    return { resultStatus: err.resultStatus, resultReason: err.resultReason, resultMessage: err.message, unexpected: false };
  }
  if (isGrpcError(err)) {
    const named = kmipReasonOf(err);
    if (TRANSIENT.has(err.code)) return transient(named ?? ResultReason.GeneralFailure);
    const byCode = REASON_BY_CODE[err.code as grpc.status];
    if (byCode !== undefined) return failed(named ?? byCode, err.details);
    return internal(named);
  }
  return internal();
}

/**
 * Logs an unexpected failure with everything an operator needs and the
 * client must not see: the correlation id the client was given, the gRPC
 * status and its details, and `context` (operation, client fingerprint).
 * Transient failures at warn, the rest at error.
 */
export function logItemFailure(log: Logger, r: ItemResult, err: unknown, context: Record<string, unknown>, msg = 'batch item failed'): void {
  const cause = detailOf(err);
  const grpcFields = isGrpcError(err) ? { grpcCode: grpc.status[err.code] ?? err.code, details: err.details, ...(cause ? { cause } : {}) } : {};
  const fields = { ref: r.ref, ...context, ...grpcFields, err };
  if (r.transient) log.warn(fields, msg);
  else log.error(fields, msg);
}
