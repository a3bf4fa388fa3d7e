// Errors of the TTLV layer: what is wrong with the bytes, and where. They say
// nothing of KMIP semantics; the message layer gives them a KMIP Result
// Reason (resultReasonOf in ../errors.ts).

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

/** True when `v` is an error of class name `name`, whichever copy of this module made it (Jest realms). */
function named(v: unknown, name: string): boolean {
  return typeof v === 'object' && v !== null && (v as Error).name === name;
}

/** A malformed TTLV encoding. */
export class TtlvDecodeError extends Error {
  override name = 'TtlvDecodeError';
  constructor(public readonly code: DecodeErrorCode, message: string, public readonly offset: number) {
    super(`${message} (at byte ${offset})`);
  }

  static override [Symbol.hasInstance](v: unknown): boolean {
    return named(v, 'TtlvDecodeError') && typeof (v as TtlvDecodeError).code === 'string';
  }
}

/** A value that cannot be encoded (out of range, or not defined in the target version). */
export class TtlvEncodeError extends Error {
  override name = 'TtlvEncodeError';

  static override [Symbol.hasInstance](v: unknown): boolean {
    return named(v, 'TtlvEncodeError');
  }
}
