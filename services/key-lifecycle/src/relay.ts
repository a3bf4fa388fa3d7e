// KeyLifecycle.Relay, the server side: a gateway's requests, many at a time
// over one long-lived stream (proto/keywarden/lifecycle/v1, docs/key-lifecycle.md
// "Relay"). This file is the stream's framing; what each request does, and
// who it acts for, is the unary handlers' (lifecycle-service.ts).
//
// The contract the gateway relies on to never run a change twice:
// - headers go out as soon as the stream is accepted: before them, nothing
//   sent on the stream has been read;
// - every request read is answered once, unless its time ran out first
//   (then nothing is sent: the gateway has given up on it);
// - the stream ends with OK only after every request read has been answered
//   or abandoned: requests the gateway sent that were never answered were
//   never run. A request read after draining began is not run.
import { DETAIL_METADATA, grpc, KMIP_REASON_METADATA, toStatus } from '@keywarden/common';
import type { Logger } from '@keywarden/common';
import type { lifecycleV1 } from '@keywarden/proto';

/** The calls a RelayRequest may carry (its oneof fields), Get first: the one that counts. */
export const RELAY_CALLS = [
  'get', 'identify', 'create', 'register', 'locate', 'activate', 'revoke', 'destroy', 'check',
  'getAttributes', 'getAttributeList', 'addAttribute', 'modifyAttribute', 'deleteAttribute',
  'createKeyPair', 'deriveKey', 'encrypt', 'decrypt', 'sign', 'signatureVerify', 'mac', 'macVerify', 'rngRetrieve',
] as const;
export type RelayCall = (typeof RELAY_CALLS)[number];

/** Requests one stream may have running; more are refused (RESOURCE_EXHAUSTED) without running. */
export const MAX_RELAY_IN_FLIGHT = 1024;

type RequestOf<K extends RelayCall> = NonNullable<lifecycleV1.RelayRequest[K]>;
type ResponseOf<K extends RelayCall> = NonNullable<lifecycleV1.RelayResponse[K]>;

/** One handler per call, as the unary service runs it (audited, caller checked). */
export type RelayHandlers = { [K in RelayCall]: (req: RequestOf<K>) => Promise<ResponseOf<K>> };

export interface RelayOptions {
  log: Logger;
  /** Subscribes to the moment streams must end (shutdown); returns the unsubscribe. */
  onEnd?: (listener: () => void) => () => void;
  maxInFlight?: number;
}

/** The unary method a call is served like ('getAttributes' → 'GetAttributes'): the name in logs and audit. */
export function methodName(kind: RelayCall): string {
  return kind[0].toUpperCase() + kind.slice(1);
}

/** The call a request carries, if any. */
export function relayCallOf(req: lifecycleV1.RelayRequest): RelayCall | undefined {
  for (const k of RELAY_CALLS) if (req[k] !== undefined) return k;
  return undefined;
}

/**
 * A failure as the unary call's status would carry it (toStatus: the code,
 * the message safe for the client, the KMIP reason and the dependency's
 * detail), in the answer instead of trailers.
 */
export function relayError(err: unknown, log: Logger, method: string): lifecycleV1.RelayError {
  const s = toStatus(err, log, { method });
  const reason = s.metadata?.get(KMIP_REASON_METADATA)[0];
  const detail = s.metadata?.get(DETAIL_METADATA)[0];
  return {
    code: s.code ?? grpc.status.INTERNAL,
    message: s.details ?? '',
    kmipResultReason: reason === undefined ? 0 : Number(reason.toString()) || 0,
    detail: detail === undefined ? '' : detail.toString(),
  };
}

function refusal(code: grpc.status, message: string): lifecycleV1.RelayError {
  return { code, message, kmipResultReason: 0, detail: '' };
}

/** Serves one Relay stream whose caller has been authorized. */
export function serveRelay(call: grpc.ServerDuplexStream<lifecycleV1.RelayRequest, lifecycleV1.RelayResponse>, handlers: RelayHandlers, o: RelayOptions): void {
  const max = o.maxInFlight ?? MAX_RELAY_IN_FLIGHT;
  let inFlight = 0;
  let clientDone = false;
  let draining = false;
  let finished = false;

  const write = (m: Partial<lifecycleV1.RelayResponse> & { id: number }) => {
    if (finished || call.cancelled) return;
    call.write(m as lifecycleV1.RelayResponse);
  };
  const finish = () => {
    if (finished || inFlight > 0 || !(clientDone || draining)) return;
    finished = true;
    stopListening();
    if (!call.cancelled) call.end();
  };
  const stopListening = o.onEnd?.(() => {
    if (finished || draining) return;
    draining = true;
    write({ id: 0, draining: true });
    finish();
  }) ?? (() => undefined);

  call.on('data', (req: lifecycleV1.RelayRequest) => {
    // Once draining, nothing more runs: the OK end tells the gateway that whatever is unanswered never ran.
    if (draining || finished) return;
    const kind = relayCallOf(req);
    if (!kind) {
      write({ id: req.id, error: refusal(grpc.status.INVALID_ARGUMENT, 'the relay request carries no call') });
      return;
    }
    if (inFlight >= max) {
      write({ id: req.id, error: refusal(grpc.status.RESOURCE_EXHAUSTED, `more than ${max} requests in flight on one stream`) });
      return;
    }
    const deadline = req.timeoutMs > 0 ? Date.now() + req.timeoutMs : Infinity;
    inFlight++;
    const run = handlers[kind] as (r: unknown) => Promise<unknown>;
    let p: Promise<unknown>;
    try {
      p = run(req[kind]);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (res) => { if (Date.now() <= deadline) write({ id: req.id, [kind]: res }); },
      (err: unknown) => { if (Date.now() <= deadline) write({ id: req.id, error: relayError(err, o.log, methodName(kind)) }); },
    ).finally(() => {
      inFlight--;
      finish();
    });
  });
  call.on('end', () => {
    clientDone = true;
    finish();
  });
  const gone = () => {
    finished = true;
    stopListening();
  };
  call.on('cancelled', gone);
  call.on('error', gone);
  // Accepted: from here on the gateway may send.
  call.sendMetadata(new grpc.Metadata());
}
