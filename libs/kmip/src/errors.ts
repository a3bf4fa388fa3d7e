// KMIP failures: the Result Status and Result Reason ride on the error object,
// not in its message (as gemalto/kmip-go and PyKMIP do). Reasons are values of
// the generated ResultReason, named as the newest KMIP version names them
// (docs/kmip-gateway.md, "Result Reasons per version"); reasonForVersion (reasons.ts) maps one
// down for a client that speaks an older version. The ttlv/ layer knows
// nothing of this: its errors become a KMIP reason here (resultReasonOf).
import { ResultReason, ResultStatus } from './generated';
import { TtlvDecodeError, TtlvEncodeError } from './ttlv/errors';

/** Marks KMIP errors, so they are recognized across Jest module realms and duplicate copies of this package. */
const KMIP_ERROR = Symbol.for('keywarden.kmip.KmipError');

export class KmipError extends Error {
  override name = 'KmipError';
  /** KMIP Result Status: Operation Failed unless told otherwise. */
  readonly resultStatus: number;
  constructor(public readonly resultReason: number, message: string, resultStatus: number = ResultStatus.OperationFailed, options?: { cause?: unknown }) {
    super(message, options);
    this.resultStatus = resultStatus;
    Object.defineProperty(this, KMIP_ERROR, { value: true });
  }

  /**
   * `instanceof KmipError` holds for any KMIP error, whichever copy of this
   * module made it; `instanceof` a subclass also needs that subclass's name,
   * so a MessageFormatError is a KmipError but a plain KmipError is not a
   * MessageFormatError.
   */
  static override [Symbol.hasInstance](v: unknown): boolean {
    if (typeof v !== 'object' || v === null || (v as Record<symbol, unknown>)[KMIP_ERROR] !== true) return false;
    if (this === KmipError) return true;
    return Function.prototype[Symbol.hasInstance].call(this, v) || (v as Error).name === this.name;
  }
}

/** True for any error carrying a KMIP Result Reason (works across module copies). */
export function isKmipError(e: unknown): e is KmipError {
  return e instanceof KmipError;
}

/** A well-formed TTLV tree that is not the KMIP message it claims to be. */
export class MessageFormatError extends KmipError {
  override name = 'MessageFormatError';
  constructor(message: string, reason: number = ResultReason.InvalidMessage) {
    super(reason, message);
  }
}

/**
 * The KMIP Result Reason of a codec or message failure, or undefined for
 * anything else: a KmipError names its own; malformed TTLV is Invalid
 * Message (KMIP 1.4 §11.1); a value that cannot be encoded is ours, General
 * Failure.
 */
export function resultReasonOf(e: unknown): number | undefined {
  if (e instanceof KmipError) return e.resultReason;
  if (e instanceof TtlvDecodeError) return ResultReason.InvalidMessage;
  if (e instanceof TtlvEncodeError) return ResultReason.GeneralFailure;
  return undefined;
}
