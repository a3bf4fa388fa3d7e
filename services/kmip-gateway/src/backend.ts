// What the gateway needs from key-lifecycle, as promises. The production
// implementation speaks gRPC; the benchmark's stub implements the same shape.
import { channelCredentials, channelOptions, envInt, envString, TlsFiles } from '@keywarden/common';
import type { Logger } from '@keywarden/common';
import { lifecycleV1 } from '@keywarden/proto';
import { watchRevocations } from './revocations';
import { streamLifecycleBackend, StreamSettings } from './stream-backend';
import { unaryCalls } from './unary-backend';

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
  // Key pairs, derivation and cryptographic operations (issue 17). Optional:
  // a backend without them (a benchmark's stub) answers Operation Not Supported.
  createKeyPair?(r: lifecycleV1.CreateKeyPairRequest): Promise<lifecycleV1.CreateKeyPairResponse>;
  deriveKey?(r: lifecycleV1.DeriveKeyRequest): Promise<lifecycleV1.DeriveKeyResponse>;
  encrypt?(r: lifecycleV1.EncryptRequest): Promise<lifecycleV1.EncryptResponse>;
  decrypt?(r: lifecycleV1.DecryptRequest): Promise<lifecycleV1.DecryptResponse>;
  sign?(r: lifecycleV1.SignRequest): Promise<lifecycleV1.SignResponse>;
  signatureVerify?(r: lifecycleV1.SignatureVerifyRequest): Promise<lifecycleV1.SignatureVerifyResponse>;
  mac?(r: lifecycleV1.MacRequest): Promise<lifecycleV1.MacResponse>;
  macVerify?(r: lifecycleV1.MacVerifyRequest): Promise<lifecycleV1.MacVerifyResponse>;
  rngRetrieve?(r: lifecycleV1.RngRetrieveRequest): Promise<lifecycleV1.RngRetrieveResponse>;
  /**
   * Calls onRevoked for each fingerprint whose access ended; onResumed after
   * the stream was re-established (revocations sent meanwhile were missed);
   * onLive(true) each time the stream is established and onLive(false) when
   * it breaks (for what may only be trusted while no revocation can be
   * missed: the identity cache). Returns a function that stops watching.
   */
  watchAccessRevocations(onRevoked: (fingerprint: string) => void, onResumed?: () => void, onLive?: (live: boolean) => void): () => void;
  close(): void;
}

/** The request methods of a LifecycleBackend (one per KeyLifecycle call). */
export type LifecycleCall = Exclude<keyof LifecycleBackend, 'watchAccessRevocations' | 'close'>;

/** How requests travel to key-lifecycle: multiplexed over Relay streams (default), or one unary call each. */
export type LifecycleTransport = 'stream' | 'unary';

export interface GrpcBackendOptions extends StreamSettings {
  /** host:port or a gRPC name such as dns:///key-lifecycle:7001 (round robin over its addresses). */
  address: string;
  tls?: TlsFiles;
  /** Per-request deadline. */
  deadlineMs?: number;
  /** Called when the revocation stream breaks and is being re-established. */
  onWatchError?: (err: Error) => void;
  /** stream (default) or unary. */
  transport?: LifecycleTransport;
  /** For the stream transport's warnings (a stream lost with requests in flight). */
  log?: Logger;
}

/** The gateway's client of key-lifecycle over gRPC (mTLS, round robin over every address of `address`). */
export function grpcLifecycleBackend(o: GrpcBackendOptions): LifecycleBackend {
  const client = new (lifecycleV1.KeyLifecycleClient as L['KeyLifecycleClient'])(o.address, channelCredentials(o.tls), channelOptions());
  const deadlineMs = o.deadlineMs ?? 10_000;
  const watch: LifecycleBackend['watchAccessRevocations'] = (onRevoked, onResumed, onLive) =>
    watchRevocations(client, { onRevoked, onResumed, onLive }, o.onWatchError);
  if (o.transport === 'unary') {
    return { ...unaryCalls(client.getChannel(), deadlineMs), watchAccessRevocations: watch, close: () => client.close() };
  }
  return streamLifecycleBackend(client, { ...o, deadlineMs }, watch);
}

/** The transport settings from the environment (docs/kmip-gateway.md, "Configuration"). */
export function transportFromEnv(): Pick<GrpcBackendOptions, 'transport' | keyof StreamSettings> {
  const transport = envString('LIFECYCLE_TRANSPORT', 'stream');
  if (transport !== 'stream' && transport !== 'unary') throw new Error('LIFECYCLE_TRANSPORT must be stream or unary');
  return {
    transport,
    streams: envInt('LIFECYCLE_STREAMS', 4, 1, 64),
    maxInFlightPerStream: envInt('LIFECYCLE_STREAM_MAX_IN_FLIGHT', 512, 1, 1024),
    streamMaxAgeMs: envInt('LIFECYCLE_STREAM_MAX_AGE_MS', 300_000, 1000),
    streamMaxRequests: envInt('LIFECYCLE_STREAM_MAX_REQUESTS', 100_000, 1, 1_000_000_000),
  };
}

export { DEFAULT_IDENTITY_CACHE_ENTRIES, withIdentityCache } from './identities';
export type { IdentityCacheOptions } from './identities';
export type { StreamSettings } from './stream-backend';
