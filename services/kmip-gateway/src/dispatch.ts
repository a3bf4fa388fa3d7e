// One request message in, one response message out (KMIP 1.4 §7 Message
// Format, §6.12-6.15 batch options). Batch items run in order; the Unique
// Batch Item ID is echoed; the answer is in the request's protocol version,
// and so is every Result Reason (reasonForVersion). What each operation is
// (read-only, undoable, its handler) comes from its definition in
// operations/.
import type { Logger } from '@keywarden/common';
import {
  BatchErrorContinuationOption, ENUM_INFO, ProtocolVersion, RequestBatchItem, RequestMessage, ResponseBatchItem,
  ResponseMessage, ResultReason, ResultStatus, Tag, TtlvDecodeError, TtlvNode, assertDefinedIn, decodeRequestTree, decodeTtlv,
  dumpTtlv, encodeResponseTree, encodeTtlv, enumValueDefinedIn, isKmipError, reasonForVersion, responseVersion, versionKey,
} from '@keywarden/kmip';
import type { LifecycleBackend } from './backend';
import type { CredentialCheck } from './credentials';
import { internalErrorText, logItemFailure, newRef, toItemResult } from './errors';
import { GatewayOperation, OPERATIONS, OpContext } from './operations';

export const DEFAULT_MAX_BATCH_ITEMS = 256;

export interface DispatchOptions {
  backend: LifecycleBackend;
  log: Logger;
  maxMessageSize: number;
  /** Batch items one request may carry (vCenter sends up to 3); more is answered with one Invalid Message. */
  maxBatchItems?: number;
  /** Called per batch item with its outcome, for metrics. */
  observe?: (operation: number, resultStatus: number, resultReason: number | undefined, seconds: number) => void;
  /** The operations served (default: all of operations/); tests narrow or replace them. */
  operations?: ReadonlyMap<number, GatewayOperation>;
}

export interface Caller {
  certFingerprint: string;
}

/**
 * Result of identifying the connection's client certificate. `credential`,
 * when the certificate has a password: the connection's check of each
 * request's KMIP Credential (credentials.ts).
 */
export type Identity = { ok: true; caller: Caller; credential?: CredentialCheck } | { ok: false; reason: number; message: string };

function now(): bigint {
  return BigInt(Math.floor(Date.now() / 1000));
}

function failure(item: RequestBatchItem, reason: number, message: string, status: number = ResultStatus.OperationFailed): ResponseBatchItem {
  return { operation: item.operation, uniqueBatchItemId: item.uniqueBatchItemId, resultStatus: status, resultReason: reason, resultMessage: message };
}

/** A whole-message error reply, for a request that could not be read as a message. */
export function messageErrorResponse(version: ProtocolVersion, reason: number, message: string): Buffer {
  const m: ResponseMessage = {
    header: { protocolVersion: version, timeStamp: now(), batchCount: 1 },
    batchItems: [{ resultStatus: ResultStatus.OperationFailed, resultReason: reason, resultMessage: message }],
  };
  return encodeTtlv(encodeResponseTree(m));
}

/** Best-effort protocol version of a tree that failed typed decoding, so the error is answered in it. */
function sniffVersion(tree: TtlvNode): ProtocolVersion {
  try {
    if (tree.type === 1) {
      const header = tree.value.find((c) => c.tag === Tag.RequestHeader);
      const pv = header?.type === 1 ? header.value.find((c) => c.tag === Tag.ProtocolVersion) : undefined;
      if (pv?.type === 1) {
        const major = pv.value.find((c) => c.tag === Tag.ProtocolVersionMajor);
        const minor = pv.value.find((c) => c.tag === Tag.ProtocolVersionMinor);
        if (major?.type === 2 && minor?.type === 2) return responseVersion({ major: major.value, minor: minor.value });
      }
    }
  } catch {
    // fall through
  }
  return { major: 1, minor: 0 };
}

/** An operation as the KMIP specification names it ("Create Key Pair"), or its number when no version defines it. */
export function operationName(op: number): string {
  const name = ENUM_INFO.get('Operation')?.values.find((v) => v.value === op)?.specName;
  return name ?? `operation 0x${op.toString(16).padStart(8, '0')}`;
}

/** A successful item of the batch so far: its request, its operation, and where its answer is. */
interface Done {
  item: RequestBatchItem;
  op?: GatewayOperation;
  index: number;
}

export class Dispatcher {
  private readonly operations: ReadonlyMap<number, GatewayOperation>;
  /** The refusal of an Undo batch holding an operation that can be neither undone nor skipped. */
  private readonly undoRefusal: string;

  constructor(private readonly o: DispatchOptions) {
    this.operations = o.operations ?? OPERATIONS;
    const undoable = [...this.operations.values()].filter((op) => op.undoable).map((op) => operationName(op.operation));
    this.undoRefusal = `Batch Error Continuation Option Undo is supported only for batches of ${undoable.join(', ')} and read-only operations`;
  }

  /** Serves one framed message. Never throws: every failure becomes a KMIP response. */
  async handle(bytes: Buffer, identify: () => Promise<Identity>): Promise<Buffer> {
    let tree: TtlvNode;
    try {
      tree = decodeTtlv(bytes, { maxMessageSize: this.o.maxMessageSize });
    } catch (e) {
      // Malformed TTLV is the client's: Invalid Message, with what is wrong and where.
      if (e instanceof TtlvDecodeError) return messageErrorResponse({ major: 1, minor: 0 }, ResultReason.InvalidMessage, e.message);
      const r = toItemResult(e);
      if (r.unexpected) logItemFailure(this.o.log, r, e, {}, 'could not decode a request');
      return messageErrorResponse({ major: 1, minor: 0 }, r.resultReason, r.resultMessage);
    }
    // At debug level, the whole request as a readable tree (key material and passwords hidden).
    if (this.o.log.isLevelEnabled('debug')) this.o.log.debug({ request: dumpTtlv(tree) }, 'KMIP request');
    let req: RequestMessage;
    try {
      req = decodeRequestTree(tree);
    } catch (e) {
      const r = toItemResult(e);
      if (r.unexpected) logItemFailure(this.o.log, r, e, { request: dumpTtlv(tree) }, 'could not decode a request');
      return messageErrorResponse(sniffVersion(tree), isKmipError(e) ? r.resultReason : ResultReason.InvalidMessage, r.resultMessage);
    }
    const version = responseVersion(req.header.protocolVersion);
    const maxItems = this.o.maxBatchItems ?? DEFAULT_MAX_BATCH_ITEMS;
    if (req.batchItems.length > maxItems) {
      // Refused before any item runs: one answer, not one per item.
      return messageErrorResponse(version, ResultReason.InvalidMessage, `a batch of ${req.batchItems.length} items exceeds this server's limit of ${maxItems}`);
    }
    const items = await this.runBatch(req, version, identify);
    const response: ResponseMessage = { header: { protocolVersion: version, timeStamp: now(), batchCount: items.length }, batchItems: items };
    let out: Buffer;
    try {
      const tree = encodeResponseTree(response);
      assertDefinedIn(tree, version);
      out = encodeTtlv(tree);
    } catch (e) {
      const ref = newRef();
      this.o.log.error({ ref, err: e }, 'could not encode a response');
      return messageErrorResponse(version, ResultReason.GeneralFailure, internalErrorText(ref));
    }
    const max = req.header.maximumResponseSize;
    if (max !== undefined && max > 0 && out.length > max) {
      const tooLarge: ResponseMessage = {
        header: response.header,
        batchItems: req.batchItems.map((it) => failure(it, ResultReason.ResponseTooLarge, `response of ${out.length} bytes exceeds Maximum Response Size ${max}`)),
      };
      out = encodeTtlv(encodeResponseTree(tooLarge));
    }
    return out;
  }

  private async runBatch(req: RequestMessage, version: ProtocolVersion, identify: () => Promise<Identity>): Promise<ResponseBatchItem[]> {
    const identity = await identify();
    if (!identity.ok) return req.batchItems.map((it) => failure(it, identity.reason, identity.message));
    // The Authentication of the request header: checked when the certificate has a password, else ignored (and not awaited).
    const refused = identity.credential ? await identity.credential.check(req.header.authentication) : undefined;
    if (refused) return req.batchItems.map((it) => failure(it, refused.reason, refused.message));
    const option = req.header.batchErrorContinuationOption ?? BatchErrorContinuationOption.Stop;
    if (req.header.asynchronousIndicator) {
      return req.batchItems.map((it) => failure(it, ResultReason.FeatureNotSupported, 'asynchronous operations are not supported'));
    }
    if (option === BatchErrorContinuationOption.Undo) {
      const bad = req.batchItems.find((it) => {
        const op = this.operations.get(it.operation);
        return !op || (!op.readOnly && !op.undoable);
      });
      if (bad) return req.batchItems.map((it) => failure(it, ResultReason.FeatureNotSupported, this.undoRefusal));
    }
    const ctx: OpContext = { backend: this.o.backend, caller: identity.caller, version, log: this.o.log };
    const out: ResponseBatchItem[] = [];
    const done: Done[] = [];
    for (const item of req.batchItems) {
      const r = await this.runItem(ctx, item);
      out.push(r);
      if (r.resultStatus === ResultStatus.Success) {
        done.push({ item, op: this.operations.get(item.operation), index: out.length - 1 });
        continue;
      }
      if (option === BatchErrorContinuationOption.Continue) continue;
      if (option === BatchErrorContinuationOption.Undo) await this.undo(ctx, done, out);
      // Stop (and Undo): items after the failed one are not processed and not answered (§6.14).
      break;
    }
    return out;
  }

  private async runItem(ctx: OpContext, item: RequestBatchItem): Promise<ResponseBatchItem> {
    const start = process.hrtime.bigint();
    let res: ResponseBatchItem;
    const op = this.operations.get(item.operation);
    const v = versionKey(ctx.version);
    if (v !== undefined && !enumValueDefinedIn('Operation', item.operation, v)) {
      // Not an operation of the request's version (Discover Versions in 1.0, an unknown number):
      // Operation Not Supported, and no Operation field, since the version has no value for it.
      const { operation: _omitted, ...rest } = failure(item, ResultReason.OperationNotSupported, `${operationName(item.operation)} is not defined in KMIP ${v}`);
      res = rest;
    } else if (item.payloadError) {
      res = failure(item, item.payloadError.resultReason, item.payloadError.message);
    } else if (!op) {
      res = failure(item, ResultReason.OperationNotSupported, `${operationName(item.operation)} is not supported`);
    } else {
      try {
        const payload = await op.run(ctx, item.payload);
        res = { operation: item.operation, uniqueBatchItemId: item.uniqueBatchItemId, resultStatus: ResultStatus.Success, payload };
      } catch (e) {
        const r = toItemResult(e);
        // The client reads only the fixed text and r.ref; the details are for the operator.
        if (r.unexpected) logItemFailure(this.o.log, r, e, { operation: item.operation, fingerprint: ctx.caller.certFingerprint });
        const reason = v === undefined ? r.resultReason : reasonForVersion(r.resultReason, item.operation, v);
        res = failure(item, reason, r.resultMessage, r.resultStatus);
      }
    }
    this.o.observe?.(item.operation, res.resultStatus, res.resultReason, Number(process.hrtime.bigint() - start) / 1e9);
    return res;
  }

  /** Compensates the successful items of an Undo batch, newest first, marking them Operation Undone. */
  private async undo(ctx: OpContext, done: Done[], out: ResponseBatchItem[]): Promise<void> {
    for (const d of [...done].reverse()) {
      try {
        // Read-only items have nothing to compensate; they are undone all the same.
        await d.op?.undo?.(ctx, d.item.payload, out[d.index].payload);
        out[d.index] = { operation: d.item.operation, uniqueBatchItemId: d.item.uniqueBatchItemId, resultStatus: ResultStatus.OperationUndone };
      } catch (e) {
        // The effect stays; the item keeps its Success status so the client knows.
        ctx.log.error({ err: e, operation: d.item.operation }, 'could not undo a batch item');
      }
    }
  }
}
