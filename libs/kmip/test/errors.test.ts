// KMIP errors carry their Result Reason on the object, are recognized across
// copies of the module (Jest gives each test file, and isolateModules each
// call, a realm of its own), and a subclass check does not take every KMIP
// error for the subclass.
import { KmipError, MessageFormatError, ResultReason, TtlvDecodeError, TtlvEncodeError, isKmipError, resultReasonOf } from '@keywarden/kmip';

type Kmip = typeof import('@keywarden/kmip');

/** A second, separately loaded copy of libs/kmip. */
function otherCopy(): Kmip {
  let m: Kmip | undefined;
  jest.isolateModules(() => {
    m = require('@keywarden/kmip') as Kmip;
  });
  if (!m || m.KmipError === KmipError) throw new Error('isolateModules gave the same module');
  return m;
}

describe('KmipError', () => {
  test('carries status and reason; message is the client text', () => {
    const e = new KmipError(ResultReason.MissingData, 'Unique Identifier missing');
    expect([e.resultStatus, e.resultReason, e.message, e.name]).toEqual([1, ResultReason.MissingData, 'Unique Identifier missing', 'KmipError']);
  });

  test('instanceof holds across module copies, for the class and its subclasses', () => {
    const other = otherCopy();
    const theirs = new other.MessageFormatError('bad', ResultReason.InvalidField);
    expect(theirs).toBeInstanceOf(KmipError);
    expect(theirs).toBeInstanceOf(MessageFormatError);
    expect(isKmipError(theirs)).toBe(true);
    expect(new other.KmipError(ResultReason.InvalidField, 'x')).toBeInstanceOf(KmipError);
    expect(new other.TtlvDecodeError('TRUNCATED', 'short', 3)).toBeInstanceOf(TtlvDecodeError);
  });

  test('a plain KmipError is not a MessageFormatError; other errors are not KMIP errors', () => {
    expect(new KmipError(ResultReason.InvalidField, 'x')).not.toBeInstanceOf(MessageFormatError);
    const other = otherCopy();
    expect(new other.KmipError(ResultReason.InvalidField, 'x')).not.toBeInstanceOf(MessageFormatError);
    const lookalike = Object.assign(new Error('x'), { resultReason: 4, resultStatus: 1 });
    expect(isKmipError(lookalike)).toBe(false);
    expect(new TtlvDecodeError('TRUNCATED', 'short', 0)).not.toBeInstanceOf(KmipError);
  });
});

describe('resultReasonOf', () => {
  test('gives codec errors their KMIP reason; the ttlv layer names none', () => {
    const decode = new TtlvDecodeError('BAD_TAG', 'no', 0);
    expect('resultReason' in decode).toBe(false);
    expect(resultReasonOf(decode)).toBe(ResultReason.InvalidMessage);
    expect(resultReasonOf(new TtlvEncodeError('too big'))).toBe(ResultReason.GeneralFailure);
    expect(resultReasonOf(new MessageFormatError('bad'))).toBe(ResultReason.InvalidMessage);
    expect(resultReasonOf(new MessageFormatError('bad', ResultReason.InvalidField))).toBe(ResultReason.InvalidField);
    expect(resultReasonOf(new Error('other'))).toBeUndefined();
  });
});
