// One KMIP operation the gateway serves, as one typed unit: its payload types
// (those of its libs/kmip codec), whether it changes stored objects, how an
// Undo batch compensates it, and its handler. The Dispatcher derives every
// table it needs (what exists, what is read-only, what can be undone) from
// the list in index.ts.
import type { Logger } from '@keywarden/common';
import { KmipError, OperationCodec, ProtocolVersion, ResultReason } from '@keywarden/kmip';
import type { LifecycleBackend } from '../backend';

export interface OpContext {
  backend: LifecycleBackend;
  caller: { certFingerprint: string };
  /** The version this request is answered in. */
  version: ProtocolVersion;
  /** KMIP ID Placeholder: the uid the previous batch item produced (KMIP 1.4 §4 introduction). */
  idPlaceholder?: string;
  log: Logger;
}

/** The definition of one operation; Req and Res are its codec's payload types. */
export interface OperationDefinition<Req, Res> {
  codec: OperationCodec<Req, Res>;
  /** True when the operation changes no stored object: it needs no compensation in an Undo batch. */
  readOnly: boolean;
  /** How a successful item is compensated when a later item of an Undo batch fails; absent: it cannot be. */
  undo?: (ctx: OpContext, request: Req, response: Res) => Promise<void>;
  handle(ctx: OpContext, request: Req): Promise<Res>;
}

/**
 * An operation with its payload types erased, as the Dispatcher holds it.
 * `run` is only given the payload the request decoder produced with the
 * operation's own codec (OPERATION_CODECS, checked by operationTable), which
 * is its request type; `undo` only that request and what `run` answered.
 */
export interface GatewayOperation {
  operation: number;
  /** The codec its requests are decoded with (compared by identity when the table is built). */
  codec: object;
  readOnly: boolean;
  undoable: boolean;
  run(ctx: OpContext, payload: unknown): Promise<unknown>;
  undo?(ctx: OpContext, request: unknown, response: unknown): Promise<void>;
}

export function defineOperation<Req, Res>(d: OperationDefinition<Req, Res>): GatewayOperation {
  const undo = d.undo;
  return {
    operation: d.codec.operation,
    codec: d.codec,
    readOnly: d.readOnly,
    undoable: undo !== undefined,
    run: (ctx, payload) => d.handle(ctx, payload as Req),
    undo: undo && ((ctx, request, response) => undo(ctx, request as Req, response as Res)),
  };
}

/** The uid a request names, or the ID Placeholder; Missing Data when neither exists. */
export function targetUid(ctx: OpContext, uid: string | undefined): string {
  const u = uid ?? ctx.idPlaceholder;
  if (u === undefined) throw new KmipError(ResultReason.MissingData, 'Unique Identifier missing and no ID Placeholder is set');
  return u;
}
