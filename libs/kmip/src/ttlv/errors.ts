// Errors that carry the KMIP Result Status and Result Reason on the object,
// not in the message (style.md: gemalto/kmip-go, PyKMIP).

/** Result Reason values used by the codec (KMIP 1.4 spec §9.1.3.2.29). */
export const CodecReason = {
  ItemNotFound: 0x01,
  ResponseTooLarge: 0x02,
  InvalidMessage: 0x04,
  OperationNotSupported: 0x05,
  MissingData: 0x06,
  InvalidField: 0x07,
  FeatureNotSupported: 0x08,
  KeyFormatTypeNotSupported: 0x10,
  GeneralFailure: 0x100,
} as const;

export class KmipError extends Error {
  override name = 'KmipError';
  /** KMIP Result Status: 1 Operation Failed by default. */
  readonly resultStatus: number;
  constructor(public readonly resultReason: number, message: string, resultStatus = 1, options?: { cause?: unknown }) {
    super(message, options);
    this.resultStatus = resultStatus;
  }
}

/** True for any error carrying a KMIP Result Reason (works across module copies). */
export function isKmipError(e: unknown): e is KmipError {
  return e instanceof Error && typeof (e as KmipError).resultReason === 'number' && typeof (e as KmipError).resultStatus === 'number';
}

export type DecodeErrorCode =
  | 'TRUNCATED'
  | 'LENGTH_MISMATCH'
  | 'BAD_PADDING'
  | 'BAD_BOOLEAN'
  | 'INVALID_UTF8'
  | 'TOO_DEEP'
  | 'TOO_LARGE'
  | 'TRAILING_BYTES'
  | 'BAD_TYPE'
  | 'BAD_TAG'
  | 'BAD_VALUE';

/** A malformed TTLV encoding. Always Invalid Message, except TOO_LARGE on responses. */
export class TtlvDecodeError extends KmipError {
  override name = 'TtlvDecodeError';
  constructor(public readonly code: DecodeErrorCode, message: string, public readonly offset: number) {
    super(CodecReason.InvalidMessage, `${message} (at byte ${offset})`);
  }
}

/** A well-formed TTLV tree that is not the KMIP message it claims to be. */
export class MessageFormatError extends KmipError {
  override name = 'MessageFormatError';
  constructor(message: string, reason: number = CodecReason.InvalidMessage) {
    super(reason, message);
  }
}

/** A value that cannot be encoded (out of range, or not defined in the target version). */
export class TtlvEncodeError extends KmipError {
  override name = 'TtlvEncodeError';
  constructor(message: string) {
    super(CodecReason.GeneralFailure, message);
  }
}
