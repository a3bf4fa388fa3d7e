// What the gateway's key, wrapping and cryptographic operations share: the
// calls key-lifecycle may lack (an older replica, a benchmark's stub), the
// streaming fields keywarden refuses, and the conversions of Key Block parts
// (transparent key material, Cryptographic Parameters, Key Wrapping Data)
// to and from the lifecycle API.
import {
  CryptoRequestBase, EncodingOption, KeyWrappingData, KeyWrappingSpecification, KmipError, ResultReason, Tag, TtlvNode, versionKey,
} from '@keywarden/kmip';
import type { lifecycleV1 } from '@keywarden/proto';
import type { LifecycleBackend } from '../backend';
import { fromProtoValue, toProtoValue } from '../convert';
import type { OpContext } from './context';

type OptionalCall = 'createKeyPair' | 'deriveKey' | 'encrypt' | 'decrypt' | 'sign' | 'signatureVerify' | 'mac' | 'macVerify' | 'rngRetrieve';

/** A call key-lifecycle may not have: Operation Not Supported when the backend lacks it. */
export function lifecycleCall<K extends OptionalCall>(ctx: OpContext, name: K, operation: string): NonNullable<LifecycleBackend[K]> {
  const fn = ctx.backend[name];
  if (!fn) throw new KmipError(ResultReason.OperationNotSupported, `${operation} is not supported by this key service`);
  return fn.bind(ctx.backend) as NonNullable<LifecycleBackend[K]>;
}

/** Streaming (KMIP 1.3 Correlation Value, Init and Final Indicator) is not implemented: each request is whole. */
export function refuseStreaming(p: CryptoRequestBase): void {
  if (p.correlationValue !== undefined || p.initIndicator === true || p.finalIndicator === false) {
    throw new KmipError(ResultReason.FeatureNotSupported, 'streaming cryptographic operations (Correlation Value, Init and Final Indicator) are not supported: send the whole data in one request');
  }
}

const EMPTY = Buffer.alloc(0);

export const orEmpty = (b: Buffer | undefined): Buffer => b ?? EMPTY;

/** An empty byte field of a lifecycle answer is an absent field. */
export const nonEmpty = (b: Uint8Array | undefined): Buffer | undefined => (b && b.length > 0 ? Buffer.from(b.buffer, b.byteOffset, b.byteLength) : undefined);

/** The Cryptographic Parameters structure as a lifecycle AttributeValue. */
export const paramsToProto = (n: TtlvNode | undefined): lifecycleV1.AttributeValue | undefined => (n ? toProtoValue(n) : undefined);

export function transparentToProto(nodes: TtlvNode[] | undefined): lifecycleV1.Structure | undefined {
  return nodes ? { fields: nodes.map((n) => ({ tag: n.tag, value: toProtoValue(n) })) } : undefined;
}

export function transparentFromProto(s: lifecycleV1.Structure | undefined): TtlvNode[] | undefined {
  return s && s.fields.length ? s.fields.map((f) => fromProtoValue(f.value, f.tag)) : undefined;
}

/** A Register's Key Wrapping Data, or a Get's Key Wrapping Specification, for key-lifecycle. */
export function wrappingToProto(w: KeyWrappingData | KeyWrappingSpecification, ctx: OpContext): lifecycleV1.KeyWrapping {
  return {
    wrappingMethod: w.wrappingMethod,
    encryptionKeyUniqueIdentifier: w.encryptionKeyInformation?.uniqueIdentifier ?? '',
    cryptographicParameters: paramsToProto(w.encryptionKeyInformation?.cryptographicParameters),
    // KMIP 1.0 has no Encoding Option: its wrapped keys are TTLV-encoded Key Values.
    encodingOption: versionKey(ctx.version) === '1.0' ? EncodingOption.TTLVEncoding : w.encodingOption ?? 0,
    macSignatureKeyUniqueIdentifier: w.macSignatureKeyInformation?.uniqueIdentifier ?? '',
    ivCounterNonce: EMPTY,
  };
}

/** The Key Wrapping Data of a Get answer, in the client's version. */
export function wrappingFromProto(w: lifecycleV1.KeyWrapping, ctx: OpContext): KeyWrappingData {
  const params = w.cryptographicParameters ? fromProtoValue(w.cryptographicParameters, Tag.CryptographicParameters) : undefined;
  return {
    wrappingMethod: w.wrappingMethod,
    encryptionKeyInformation: { uniqueIdentifier: w.encryptionKeyUniqueIdentifier, cryptographicParameters: params },
    ivCounterNonce: nonEmpty(w.ivCounterNonce),
    encodingOption: versionKey(ctx.version) === '1.0' ? undefined : w.encodingOption || undefined,
  };
}
