// Request and Response Messages: header, batch items, payload dispatch
// (KMIP 1.4 §7 "Message Format" and §6 "Message Contents";
// KMIP 2.1 §8 and §7).

import { KmipError, MessageFormatError } from '../errors';
import { ItemType, TtlvNode } from '../ttlv/types';
import { decodeTtlv, DecodeOptions } from '../ttlv/decode';
import { encodeTtlv } from '../ttlv/encode';
import { ResultReason, ResultStatus, Tag } from '../generated';
import { StructBuilder, StructReader } from './struct';
import { OPERATION_CODECS } from './operations';
import { decodeProtocolVersion, encodeProtocolVersion } from './operations/discover-versions';
import { ProtocolVersion } from './version';

export interface RequestHeader {
  protocolVersion: ProtocolVersion;
  maximumResponseSize?: number;
  clientCorrelationValue?: string;
  serverCorrelationValue?: string;
  asynchronousIndicator?: boolean;
  attestationCapableIndicator?: boolean;
  /** Authentication structure, as given (keywarden authenticates by client certificate). */
  authentication?: TtlvNode;
  batchErrorContinuationOption?: number;
  batchOrderOption?: boolean;
  timeStamp?: bigint;
  batchCount: number;
}

export interface RequestBatchItem {
  operation: number;
  uniqueBatchItemId?: Buffer;
  /** Typed payload when the operation has a codec; otherwise undefined and `rawPayload` holds it. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  payload?: any;
  rawPayload?: TtlvNode;
  /** A payload that failed typed decoding: the item is answered with this error, the rest of the batch still runs. */
  payloadError?: KmipError;
  messageExtension?: TtlvNode;
}

export interface RequestMessage {
  header: RequestHeader;
  batchItems: RequestBatchItem[];
}

export interface ResponseHeader {
  protocolVersion: ProtocolVersion;
  timeStamp: bigint;
  clientCorrelationValue?: string;
  serverCorrelationValue?: string;
  batchCount: number;
}

export interface ResponseBatchItem {
  operation?: number;
  uniqueBatchItemId?: Buffer;
  resultStatus: number;
  resultReason?: number;
  resultMessage?: string;
  asynchronousCorrelationValue?: Buffer;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  payload?: any;
  rawPayload?: TtlvNode;
}

export interface ResponseMessage {
  header: ResponseHeader;
  batchItems: ResponseBatchItem[];
}

// ---------------- requests ----------------

/** Boolean in 1.x; in 2.x an Enumeration where 1 is Mandatory (asynchronous required). */
function asynchronousIndicator(n: TtlvNode | undefined): boolean | undefined {
  if (n === undefined) return undefined;
  if (n.type === ItemType.Boolean) return n.value;
  if (n.type === ItemType.Enumeration) return n.value === 1;
  throw new MessageFormatError('Asynchronous Indicator must be a Boolean (1.x) or an Enumeration (2.x)', ResultReason.InvalidField);
}

function decodeRequestHeader(r: StructReader): RequestHeader {
  return {
    protocolVersion: decodeProtocolVersion(r.reqStruct(Tag.ProtocolVersion)),
    maximumResponseSize: r.opt(Tag.MaximumResponseSize, ItemType.Integer),
    clientCorrelationValue: r.opt(Tag.ClientCorrelationValue, ItemType.TextString),
    serverCorrelationValue: r.opt(Tag.ServerCorrelationValue, ItemType.TextString),
    asynchronousIndicator: asynchronousIndicator(r.node_(Tag.AsynchronousIndicator)),
    attestationCapableIndicator: r.opt(Tag.AttestationCapableIndicator, ItemType.Boolean),
    authentication: r.node_(Tag.Authentication),
    batchErrorContinuationOption: r.opt(Tag.BatchErrorContinuationOption, ItemType.Enumeration),
    batchOrderOption: r.opt(Tag.BatchOrderOption, ItemType.Boolean),
    timeStamp: r.opt(Tag.TimeStamp, ItemType.DateTime),
    batchCount: r.req(Tag.BatchCount, ItemType.Integer),
  };
}

function encodeRequestHeader(h: RequestHeader): TtlvNode {
  return new StructBuilder()
    .add(encodeProtocolVersion(h.protocolVersion))
    .integer(Tag.MaximumResponseSize, h.maximumResponseSize)
    .text(Tag.ClientCorrelationValue, h.clientCorrelationValue)
    .text(Tag.ServerCorrelationValue, h.serverCorrelationValue)
    .add(h.asynchronousIndicator === undefined ? undefined
      : h.protocolVersion.major >= 2
        ? { tag: Tag.AsynchronousIndicator, type: ItemType.Enumeration, value: h.asynchronousIndicator ? 1 : 3 }
        : { tag: Tag.AsynchronousIndicator, type: ItemType.Boolean, value: h.asynchronousIndicator })
    .boolean(Tag.AttestationCapableIndicator, h.attestationCapableIndicator)
    .add(h.authentication)
    .enumeration(Tag.BatchErrorContinuationOption, h.batchErrorContinuationOption)
    .boolean(Tag.BatchOrderOption, h.batchOrderOption)
    .dateTime(Tag.TimeStamp, h.timeStamp)
    .integer(Tag.BatchCount, h.batchCount)
    .build(Tag.RequestHeader);
}

function decodeRequestItem(node: TtlvNode, v: ProtocolVersion): RequestBatchItem {
  const r = new StructReader(node, Tag.BatchItem);
  const operation = r.req(Tag.Operation, ItemType.Enumeration);
  const item: RequestBatchItem = {
    operation,
    uniqueBatchItemId: r.opt(Tag.UniqueBatchItemID, ItemType.ByteString),
    messageExtension: r.node_(Tag.MessageExtension),
  };
  const payloadNode = r.node_(Tag.RequestPayload);
  const codec = OPERATION_CODECS.get(operation);
  if (!codec) {
    item.rawPayload = payloadNode;
    return item;
  }
  try {
    if (!payloadNode) throw new MessageFormatError('batch item is missing Request Payload', ResultReason.InvalidField);
    item.payload = codec.decodeRequest(new StructReader(payloadNode), v);
  } catch (e) {
    if (!(e instanceof KmipError)) throw e;
    item.payloadError = e;
    item.rawPayload = payloadNode;
  }
  return item;
}

function checkBatchCount(declared: number, held: number): void {
  if (declared !== held) throw new MessageFormatError(`Batch Count says ${declared} but the message holds ${held} batch items`);
}

export function decodeRequestTree(tree: TtlvNode): RequestMessage {
  const r = new StructReader(tree, Tag.RequestMessage);
  const header = decodeRequestHeader(r.reqStruct(Tag.RequestHeader));
  const items = r.nodes(Tag.BatchItem);
  if (items.length === 0) throw new MessageFormatError('request has no Batch Item');
  checkBatchCount(header.batchCount, items.length);
  return { header, batchItems: items.map((n) => decodeRequestItem(n, header.protocolVersion)) };
}

export function decodeRequest(bytes: Buffer, opts?: DecodeOptions): RequestMessage {
  return decodeRequestTree(decodeTtlv(bytes, opts));
}

export function encodeRequestTree(m: RequestMessage): TtlvNode {
  const v = m.header.protocolVersion;
  const items = m.batchItems.map((it) => {
    const codec = OPERATION_CODECS.get(it.operation);
    const payload = it.payload !== undefined && codec
      ? { tag: Tag.RequestPayload, type: ItemType.Structure, value: codec.encodeRequest(it.payload, v) } as TtlvNode
      : it.rawPayload ?? { tag: Tag.RequestPayload, type: ItemType.Structure, value: [] } as TtlvNode;
    return new StructBuilder()
      .enumeration(Tag.Operation, it.operation)
      .bytes(Tag.UniqueBatchItemID, it.uniqueBatchItemId)
      .add(payload)
      .add(it.messageExtension)
      .build(Tag.BatchItem);
  });
  return new StructBuilder().add(encodeRequestHeader({ ...m.header, batchCount: items.length })).add(...items).build(Tag.RequestMessage);
}

export function encodeRequest(m: RequestMessage): Buffer {
  return encodeTtlv(encodeRequestTree(m));
}

// ---------------- responses ----------------

function decodeResponseItem(node: TtlvNode, v: ProtocolVersion): ResponseBatchItem {
  const r = new StructReader(node, Tag.BatchItem);
  const operation = r.opt(Tag.Operation, ItemType.Enumeration);
  const item: ResponseBatchItem = {
    operation,
    uniqueBatchItemId: r.opt(Tag.UniqueBatchItemID, ItemType.ByteString),
    resultStatus: r.req(Tag.ResultStatus, ItemType.Enumeration),
    resultReason: r.opt(Tag.ResultReason, ItemType.Enumeration),
    resultMessage: r.opt(Tag.ResultMessage, ItemType.TextString),
    asynchronousCorrelationValue: r.opt(Tag.AsynchronousCorrelationValue, ItemType.ByteString),
  };
  const payloadNode = r.node_(Tag.ResponsePayload);
  const codec = operation === undefined ? undefined : OPERATION_CODECS.get(operation);
  if (payloadNode && codec && item.resultStatus === ResultStatus.Success) item.payload = codec.decodeResponse(new StructReader(payloadNode), v);
  else item.rawPayload = payloadNode;
  return item;
}

export function decodeResponseTree(tree: TtlvNode): ResponseMessage {
  const r = new StructReader(tree, Tag.ResponseMessage);
  const h = r.reqStruct(Tag.ResponseHeader);
  const header: ResponseHeader = {
    protocolVersion: decodeProtocolVersion(h.reqStruct(Tag.ProtocolVersion)),
    timeStamp: h.req(Tag.TimeStamp, ItemType.DateTime),
    clientCorrelationValue: h.opt(Tag.ClientCorrelationValue, ItemType.TextString),
    serverCorrelationValue: h.opt(Tag.ServerCorrelationValue, ItemType.TextString),
    batchCount: h.req(Tag.BatchCount, ItemType.Integer),
  };
  const items = r.nodes(Tag.BatchItem);
  checkBatchCount(header.batchCount, items.length);
  return { header, batchItems: items.map((n) => decodeResponseItem(n, header.protocolVersion)) };
}

export function decodeResponse(bytes: Buffer, opts?: DecodeOptions): ResponseMessage {
  return decodeResponseTree(decodeTtlv(bytes, opts));
}

export function encodeResponseItem(it: ResponseBatchItem, v: ProtocolVersion): TtlvNode {
  const codec = it.operation === undefined ? undefined : OPERATION_CODECS.get(it.operation);
  let payload: TtlvNode | undefined = it.rawPayload;
  if (it.payload !== undefined && codec) payload = { tag: Tag.ResponsePayload, type: ItemType.Structure, value: codec.encodeResponse(it.payload, v) };
  return new StructBuilder()
    .enumeration(Tag.Operation, it.operation)
    .bytes(Tag.UniqueBatchItemID, it.uniqueBatchItemId)
    .enumeration(Tag.ResultStatus, it.resultStatus)
    .enumeration(Tag.ResultReason, it.resultReason)
    .text(Tag.ResultMessage, it.resultMessage)
    .bytes(Tag.AsynchronousCorrelationValue, it.asynchronousCorrelationValue)
    .add(payload)
    .build(Tag.BatchItem);
}

export function encodeResponseHeader(h: ResponseHeader): TtlvNode {
  return new StructBuilder()
    .add(encodeProtocolVersion(h.protocolVersion))
    .dateTime(Tag.TimeStamp, h.timeStamp)
    .text(Tag.ClientCorrelationValue, h.clientCorrelationValue)
    .text(Tag.ServerCorrelationValue, h.serverCorrelationValue)
    .integer(Tag.BatchCount, h.batchCount)
    .build(Tag.ResponseHeader);
}

export function encodeResponseTree(m: ResponseMessage): TtlvNode {
  const v = m.header.protocolVersion;
  const items = m.batchItems.map((it) => encodeResponseItem(it, v));
  return new StructBuilder().add(encodeResponseHeader({ ...m.header, batchCount: items.length })).add(...items).build(Tag.ResponseMessage);
}

export function encodeResponse(m: ResponseMessage): Buffer {
  return encodeTtlv(encodeResponseTree(m));
}
