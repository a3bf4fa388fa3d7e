import * as grpc from '@grpc/grpc-js';
import { HealthImplementation, ServingStatusMap, service as healthService } from 'grpc-health-check';
import type { Logger } from './log';
import type { TlsFiles } from './tls';

export { grpc };

/** Metadata key carrying the KMIP Result Reason (decimal) on lifecycle errors. */
export const KMIP_REASON_METADATA = 'kmip-result-reason';

/**
 * Metadata key carrying what a dependency said about a failure (the status
 * text of the call that failed underneath: provider hosts, instances, key
 * ids). For operators and trusted internal callers: the gateway logs it with
 * the failure's correlation id and never hands it to a KMIP client.
 */
export const DETAIL_METADATA = 'keywarden-detail-bin';
const MAX_DETAIL = 2048;

/**
 * An error a handler means to send: a gRPC status, a message safe for the
 * caller, and for lifecycle calls the KMIP Result Reason. Anything else a
 * handler throws becomes INTERNAL with a fixed text (details only in the log).
 */
export class ServiceError extends Error {
  override name = 'ServiceError';
  constructor(public readonly code: grpc.status, message: string, public readonly kmipReason?: number, options?: { cause?: unknown }) {
    super(message, options);
  }

  // Survive Jest's module realms and duplicate copies of this package.
  static override [Symbol.hasInstance](v: unknown): boolean {
    return typeof v === 'object' && v !== null && (v as { name?: unknown }).name === 'ServiceError' && typeof (v as { code?: unknown }).code === 'number';
  }

  toStatus(): Partial<grpc.StatusObject> {
    const metadata = new grpc.Metadata();
    if (this.kmipReason !== undefined) metadata.set(KMIP_REASON_METADATA, String(this.kmipReason));
    const detail = isGrpcError(this.cause) ? this.cause.details : undefined;
    if (detail) metadata.set(DETAIL_METADATA, Buffer.from(detail.slice(0, MAX_DETAIL), 'utf8'));
    return { code: this.code, details: this.message, metadata };
  }
}

export const INTERNAL_ERROR_TEXT = 'internal error; see the server log';

/** Converts anything thrown by a handler into what goes on the wire. */
export function toStatus(err: unknown, log?: Logger, context?: Record<string, unknown>): Partial<grpc.StatusObject> {
  if (err instanceof ServiceError) return err.toStatus();
  log?.error({ err, ...context }, 'unexpected error in handler');
  return { code: grpc.status.INTERNAL, details: INTERNAL_ERROR_TEXT };
}

/** True for a grpc-js client error (has a numeric code and details). */
export function isGrpcError(e: unknown): e is grpc.ServiceError {
  return typeof e === 'object' && e !== null && typeof (e as grpc.ServiceError).code === 'number' && 'details' in e;
}

/** What a dependency said about a failure (DETAIL_METADATA), if the error carried it. */
export function detailOf(e: unknown): string | undefined {
  if (!isGrpcError(e) || !e.metadata) return undefined;
  const v = e.metadata.get(DETAIL_METADATA)[0];
  return v === undefined ? undefined : v.toString();
}

/** The KMIP Result Reason a lifecycle error carried, if any. */
export function kmipReasonOf(e: unknown): number | undefined {
  if (!isGrpcError(e) || !e.metadata) return undefined;
  const v = e.metadata.get(KMIP_REASON_METADATA)[0];
  if (v === undefined) return undefined;
  const n = Number(v.toString());
  return Number.isInteger(n) ? n : undefined;
}

type UnaryHandler<Req, Res> = (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>;

/** Adapts an async function to a grpc-js unary handler with uniform error handling. */
export function unary<Req, Res>(log: Logger, method: string, fn: UnaryHandler<Req, Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    fn(call.request, call).then(
      (res) => callback(null, res),
      (err) => callback(toStatus(err, log, { method }) as grpc.ServerErrorResponse),
    );
  };
}

export function serverCredentials(tls: TlsFiles | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(tls.ca, [{ cert_chain: tls.cert, private_key: tls.key }], true);
}

export function channelCredentials(tls: TlsFiles | undefined): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(tls.ca, tls.key, tls.cert);
}

/**
 * channelz (grpc-js's per-call tracing, on by default) is off on every
 * channel and server: keywarden serves no channelz endpoint, and the tracking
 * costs about a tenth of each unary call's CPU (docs/benchmarks.md).
 */
const COMMON: grpc.ChannelOptions = { 'grpc.enable_channelz': 0 };

/**
 * Channel options for service-to-service clients: client-side round robin
 * over every address the name resolves to (a headless Kubernetes Service),
 * keepalive, reconnection at least every 2 s while a service is down, and
 * generous message limits for batch responses.
 */
export function channelOptions(extra: grpc.ChannelOptions = {}): grpc.ChannelOptions {
  return {
    ...COMMON,
    'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
    // A peer that vanished without closing (its node lost) is given up within
    // 15 s: the gateway's revocation stream then moves to another replica.
    // (grpc-js servers do not police ping rates; keywarden's are all grpc-js.)
    'grpc.keepalive_time_ms': 10_000,
    'grpc.keepalive_timeout_ms': 5_000,
    // grpc-js backs off reconnection up to 120 s by default: after a long outage
    // of a service, its callers would wait up to two minutes more once it is back.
    'grpc.max_reconnect_backoff_ms': 2_000,
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
    ...extra,
  };
}

/** Options for every gRPC server of keywarden. */
export function serverOptions(extra: grpc.ServerOptions = {}): grpc.ServerOptions {
  return { ...COMMON, ...extra };
}

/** Binds and starts a server; returns the bound port (address may end in :0). */
export function bindServer(server: grpc.Server, address: string, creds: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, creds, (err, port) => (err ? reject(err) : resolve(port)));
  });
}

/** Graceful shutdown with a deadline, then force. */
export function shutdownServer(server: grpc.Server, graceMs = 5000): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(() => { server.forceShutdown(); resolve(); }, graceMs);
    t.unref();
    server.tryShutdown(() => { clearTimeout(t); resolve(); });
  });
}

/** A grpc.health.v1.Health service with these statuses; '' is the whole server. */
export function createHealth(statuses: ServingStatusMap = { '': 'SERVING' }): HealthImplementation {
  return new HealthImplementation(statuses);
}

/** Registers grpc.health.v1.Health on a server; '' is the whole server. */
export function addHealth(server: grpc.Server, statuses: ServingStatusMap = { '': 'SERVING' }): HealthImplementation {
  const health = createHealth(statuses);
  health.addToServer(server);
  return health;
}

export type Health = HealthImplementation;

/** Sets every service name (and '') of a health service to SERVING or NOT_SERVING. */
export function setServing(health: HealthImplementation, names: readonly string[], serving: boolean): void {
  for (const n of ['', ...names]) health.setStatus(n, serving ? 'SERVING' : 'NOT_SERVING');
}

export interface HealthServer {
  port: number;
  close(): void;
}

/**
 * Serves a health service, and nothing else, on a plaintext port of its own:
 * for Kubernetes' built-in grpc probes, which cannot present a client
 * certificate. The same HealthImplementation can also be on the mTLS port.
 */
export async function startHealthServer(address: string, health: HealthImplementation): Promise<HealthServer> {
  const server = new grpc.Server(serverOptions());
  health.addToServer(server);
  const port = await bindServer(server, address, grpc.ServerCredentials.createInsecure());
  return { port, close: () => server.forceShutdown() };
}

const HealthClient = grpc.makeClientConstructor(healthService as unknown as grpc.ServiceDefinition, 'grpc.health.v1.Health');

/** Asks a server's health service; resolves to the serving status string. */
export function checkHealth(address: string, creds: grpc.ChannelCredentials, service = '', deadlineMs = 2000): Promise<string> {
  const client = new HealthClient(address, creds) as unknown as grpc.Client & {
    check(req: { service: string }, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: { status: string | number }) => void): void;
  };
  return new Promise((resolve, reject) => {
    client.check({ service }, { deadline: Date.now() + deadlineMs }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(String(res?.status));
    });
  });
}

/** What a unary call needs of a method definition (ts-proto's generated service definitions have it). */
export interface UnaryMethod<Req, Res> {
  path: string;
  requestSerialize: (r: Req) => Buffer;
  responseDeserialize: (b: Buffer) => Res;
}

/** A failed call shaped as grpc-js shapes it (a ServiceError: code, details, trailing metadata). */
function callError(status: grpc.StatusObject): grpc.ServiceError {
  return Object.assign(new Error(`${status.code} ${grpc.status[status.code]}: ${status.details}`), status);
}

/**
 * One unary call made directly on a channel, for the services' hot paths.
 * A generated client's methods take each call through grpc-js's interceptor
 * chain, an event emitter and a captured stack (about 50 µs of CPU per call,
 * a fifth of the client's share); keywarden configures no interceptors, so
 * this is the same call: same channel (mTLS, round robin, keepalive),
 * deadline, status, trailing metadata and error shape.
 */
export function unaryCall<Req, Res>(channel: grpc.ChannelInterface, m: UnaryMethod<Req, Res>, req: Req, deadlineMs: number): Promise<Res> {
  const message = m.requestSerialize(req);
  return new Promise((resolve, reject) => {
    const c = channel.createCall(m.path, Date.now() + deadlineMs, undefined, null, null);
    let response: Res | undefined;
    let received = false;
    c.start(new grpc.Metadata(), {
      onReceiveMetadata: () => undefined,
      onReceiveMessage: (b: Buffer) => {
        try {
          response = m.responseDeserialize(b);
          received = true;
        } catch (e) {
          c.cancelWithStatus(grpc.status.INTERNAL, `Response message parsing error: ${e instanceof Error ? e.message : String(e)}`);
        }
      },
      onReceiveStatus: (status: grpc.StatusObject) => {
        if (status.code !== grpc.status.OK) reject(callError(status));
        else if (!received) reject(callError({ code: grpc.status.UNIMPLEMENTED, details: 'No message received', metadata: status.metadata }));
        else resolve(response as Res);
      },
    });
    c.startRead();
    c.sendMessageWithContext({}, message);
    c.halfClose();
  });
}

/** Promise wrapper for a generated unary client method with a deadline. */
export function call<Req, Res>(
  method: (req: Req, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, cb: (e: grpc.ServiceError | null, r: Res) => void) => grpc.ClientUnaryCall,
  self: grpc.Client,
  req: Req,
  deadlineMs: number,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(self, req, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}
