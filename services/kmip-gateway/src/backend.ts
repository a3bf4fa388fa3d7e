// What the gateway needs from key-lifecycle, as promises. The production
// implementation speaks gRPC; the benchmark's stub implements the same shape.
import { channelCredentials, channelOptions, grpc, TlsFiles, UnaryMethod, unaryCall } from '@keywarden/common';
import { lifecycleV1 } from '@keywarden/proto';

type L = typeof lifecycleV1;

export interface LifecycleBackend {
  identify(r: lifecycleV1.IdentifyRequest): Promise<lifecycleV1.IdentifyResponse>;
  create(r: lifecycleV1.CreateRequest): Promise<lifecycleV1.CreateResponse>;
  register(r: lifecycleV1.RegisterRequest): Promise<lifecycleV1.RegisterResponse>;
  get(r: lifecycleV1.GetRequest): Promise<lifecycleV1.GetResponse>;
  locate(r: lifecycleV1.LocateRequest): Promise<lifecycleV1.LocateResponse>;
  activate(r: lifecycleV1.ActivateRequest): Promise<lifecycleV1.ActivateResponse>;
  revoke(r: lifecycleV1.RevokeRequest): Promise<lifecycleV1.RevokeResponse>;
  destroy(r: lifecycleV1.DestroyRequest): Promise<lifecycleV1.DestroyResponse>;
  check(r: lifecycleV1.CheckRequest): Promise<lifecycleV1.CheckResponse>;
  getAttributes(r: lifecycleV1.GetAttributesRequest): Promise<lifecycleV1.GetAttributesResponse>;
  getAttributeList(r: lifecycleV1.GetAttributeListRequest): Promise<lifecycleV1.GetAttributeListResponse>;
  addAttribute(r: lifecycleV1.AddAttributeRequest): Promise<lifecycleV1.AddAttributeResponse>;
  modifyAttribute(r: lifecycleV1.ModifyAttributeRequest): Promise<lifecycleV1.ModifyAttributeResponse>;
  deleteAttribute(r: lifecycleV1.DeleteAttributeRequest): Promise<lifecycleV1.DeleteAttributeResponse>;
  /**
   * Calls onRevoked for each fingerprint whose access ended; onResumed after
   * the stream was re-established (revocations sent meanwhile were missed).
   * Returns a function that stops watching.
   */
  watchAccessRevocations(onRevoked: (fingerprint: string) => void, onResumed?: () => void): () => void;
  close(): void;
}

const UNARY = [
  'identify', 'create', 'register', 'get', 'locate', 'activate', 'revoke', 'destroy', 'check',
  'getAttributes', 'getAttributeList', 'addAttribute', 'modifyAttribute', 'deleteAttribute',
] as const;

export interface GrpcBackendOptions {
  /** host:port or a gRPC name such as dns:///key-lifecycle:7001 (round robin over its addresses). */
  address: string;
  tls?: TlsFiles;
  /** Per-call deadline. */
  deadlineMs?: number;
  /** Called when the revocation stream breaks and is being re-established. */
  onWatchError?: (err: Error) => void;
}

export function grpcLifecycleBackend(o: GrpcBackendOptions): LifecycleBackend {
  const client = new (lifecycleV1.KeyLifecycleClient as L['KeyLifecycleClient'])(o.address, channelCredentials(o.tls), channelOptions());
  const deadlineMs = o.deadlineMs ?? 10_000;
  const channel = client.getChannel();
  const backend: Partial<LifecycleBackend> = {};
  for (const m of UNARY) {
    // Straight on the channel (unaryCall): the generated method's interceptor layers cost ~50 µs per call.
    const method = lifecycleV1.KeyLifecycleService[m] as UnaryMethod<unknown, unknown>;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (backend as any)[m] = (req: unknown) => unaryCall(channel, method, req, deadlineMs);
  }
  backend.watchAccessRevocations = (onRevoked, onResumed) => {
    let stopped = false;
    let broken = false;
    let stream: grpc.ClientReadableStream<lifecycleV1.AccessRevoked> | undefined;
    let retry: NodeJS.Timeout | undefined;
    const open = () => {
      if (stopped) return;
      const s = client.watchAccessRevocations({});
      stream = s;
      if (broken) {
        // The server sends nothing on subscribe: treat the stream as resumed once its headers arrive.
        s.once('metadata', () => { broken = false; onResumed?.(); });
      }
      // A failed stream emits both 'error' and 'end': it is replaced once, or
      // every outage second would double the streams (and the timers).
      let replaced = false;
      const replace = () => {
        if (stopped || replaced) return;
        replaced = true;
        broken = true;
        retry = setTimeout(open, 1000);
        retry.unref();
      };
      s.on('data', (m: lifecycleV1.AccessRevoked) => onRevoked(m.certFingerprint));
      s.on('error', (err: Error & { code?: number }) => {
        if (stopped || err.code === grpc.status.CANCELLED) return;
        o.onWatchError?.(err);
        replace();
      });
      s.on('end', replace);
    };
    open();
    return () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      stream?.cancel();
    };
  };
  backend.close = () => client.close();
  return backend as LifecycleBackend;
}
