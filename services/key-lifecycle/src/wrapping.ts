import { grpc, isGrpcError, kmipReasonOf, ServiceError, channelCredentials, channelOptions, TlsFiles, UnaryMethod, unaryCall } from '@keywarden/common';
import { wrappingV1 } from '@keywarden/proto';
import { ResultReason } from '@keywarden/kmip';
import type { TenantRecord } from './store/store';

// The crk-wrapping client key-lifecycle uses, with deadlines, and the mapping
// of its failures to what a KMIP client should read.

export interface WrappingDeadlines {
  /** Seal, unseal, rewrap, destroy. */
  dataMs: number;
  /** Root key management. */
  adminMs: number;
}

export type WrappingContext = { tenantId: string; uid: string };

const M = wrappingV1.CrkWrappingService;

export function providerOf(t: TenantRecord): wrappingV1.Provider {
  return {
    kind: t.kind as wrappingV1.ProviderKind,
    endpoint: t.endpoint,
    iamEndpoint: t.iamEndpoint,
    instanceId: t.instanceId,
    crkId: t.crkId,
    credentialRef: t.credentialRef,
  };
}

export class Wrapping {
  readonly client: wrappingV1.CrkWrappingClient;
  private readonly channel: grpc.ChannelInterface;

  constructor(address: string, tls: TlsFiles | undefined, private readonly deadlines: WrappingDeadlines = { dataMs: 10_000, adminMs: 30_000 }) {
    this.client = new wrappingV1.CrkWrappingClient(address, channelCredentials(tls), channelOptions());
    this.channel = this.client.getChannel();
  }

  close(): void {
    this.client.close();
  }

  generateAndSeal(t: TenantRecord, context: WrappingContext, algorithm: number, lengthBits: number): Promise<wrappingV1.SealResponse> {
    return this.data(M.generateAndSeal, { provider: providerOf(t), context, algorithm, lengthBits });
  }

  seal(t: TenantRecord, context: WrappingContext, plaintext: Buffer): Promise<wrappingV1.SealResponse> {
    return this.data(M.seal, { provider: providerOf(t), context, plaintext });
  }

  unseal(t: TenantRecord, context: WrappingContext, sealedRef: Buffer): Promise<wrappingV1.UnsealResponse> {
    return this.data(M.unseal, { provider: providerOf(t), context, sealedRef });
  }

  rewrap(t: TenantRecord, context: WrappingContext, sealedRef: Buffer): Promise<wrappingV1.RewrapResponse> {
    return this.data(M.rewrap, { provider: providerOf(t), context, sealedRef });
  }

  destroySealed(t: TenantRecord, context: WrappingContext, sealedRef: Buffer): Promise<wrappingV1.DestroySealedResponse> {
    return this.data(M.destroySealed, { provider: providerOf(t), context, sealedRef });
  }

  createRootKey(provider: wrappingV1.Provider, name: string): Promise<wrappingV1.CreateRootKeyResponse> {
    return this.admin(M.createRootKey, { provider, name });
  }

  checkRootKey(provider: wrappingV1.Provider): Promise<wrappingV1.CheckRootKeyResponse> {
    return this.admin(M.checkRootKey, { provider });
  }

  rotateRootKey(provider: wrappingV1.Provider): Promise<wrappingV1.RotateRootKeyResponse> {
    return this.admin(M.rotateRootKey, { provider });
  }

  deleteRootKey(provider: wrappingV1.Provider, force: boolean): Promise<wrappingV1.DeleteRootKeyResponse> {
    return this.admin(M.deleteRootKey, { provider, force });
  }

  sealCredential(credential: Buffer): Promise<wrappingV1.SealCredentialResponse> {
    return this.admin(M.sealCredential, { credential });
  }

  private data<Req, Res>(m: UnaryMethod<Req, Res>, req: Req): Promise<Res> {
    return unaryCall(this.channel, m, req, this.deadlines.dataMs);
  }

  private admin<Req, Res>(m: UnaryMethod<Req, Res>, req: Req): Promise<Res> {
    return unaryCall(this.channel, m, req, this.deadlines.adminMs);
  }
}

const S = grpc.status;

/** True when the wrapping error says the sealed object itself is gone (NOT_FOUND). */
export const isNotFound = (e: unknown): boolean => isGrpcError(e) && e.code === S.NOT_FOUND;

/** crk-wrapping's machine-readable failure cause (trailing metadata, see docs/crk-wrapping.md). */
export const WRAPPING_REASON_METADATA = 'wrapping-reason';

export function wrappingReasonOf(e: unknown): string | undefined {
  if (!isGrpcError(e) || !e.metadata) return undefined;
  const v = e.metadata.get(WRAPPING_REASON_METADATA)[0];
  return v === undefined ? undefined : v.toString();
}

/** What a KMIP client should read for causes that revoke keys. */
const REVOKED: Record<string, string> = {
  CRK_DELETED: "the tenant's root key was deleted in the provider, which revokes every key it wraps",
  CRK_NOT_FOUND: "the tenant's root key no longer exists in the provider, which revokes every key it wraps",
  CRK_DISABLED: "the tenant's root key is disabled (suspended or deactivated) in the provider",
  SEALED_KEY_DELETED: "this key's wrapped material was deleted in the provider, which revokes this key",
  SEALED_KEY_NOT_FOUND: "this key's wrapped material does not exist in the provider",
  AAD_MISMATCH: "this key's wrapped material does not unwrap for this tenant and identifier",
  AUTH_FAILED: "the provider rejected the tenant's credential",
  FORBIDDEN: "the provider refuses the tenant's credential for this operation",
};

/**
 * A crk-wrapping failure as a KMIP-level error: crk-wrapping's reason picks
 * the text, its KMIP Result Reason (when it set one) is passed on. Its
 * status text names provider hosts, instances and key ids, which are for
 * operators: it stays in the cause (logged with the audit line, and the Admin
 * API reports it), never in the message a KMIP client reads.
 */
export function wrappingFailure(e: unknown, action: string): ServiceError {
  if (e instanceof ServiceError) return e;
  if (!isGrpcError(e)) return new ServiceError(S.INTERNAL, `${action} failed`, ResultReason.GeneralFailure, { cause: e });
  const reason = wrappingReasonOf(e);
  const kmip = kmipReasonOf(e);
  if (reason && REVOKED[reason]) {
    return new ServiceError(S.FAILED_PRECONDITION, `${action}: ${REVOKED[reason]}`, kmip ?? ResultReason.PermissionDenied, { cause: e });
  }
  switch (e.code) {
    case S.UNAVAILABLE:
    case S.DEADLINE_EXCEEDED:
    case S.RESOURCE_EXHAUSTED:
    case S.ABORTED:
      return new ServiceError(S.UNAVAILABLE, `${action}: the key provider is unavailable; retry later`, ResultReason.GeneralFailure, { cause: e });
    case S.NOT_FOUND:
    case S.FAILED_PRECONDITION:
    case S.PERMISSION_DENIED:
    case S.UNAUTHENTICATED:
      return new ServiceError(S.FAILED_PRECONDITION, `${action}: the key provider refused the operation`, kmip ?? ResultReason.PermissionDenied, { cause: e });
    case S.INVALID_ARGUMENT:
    case S.OUT_OF_RANGE:
      return new ServiceError(S.INVALID_ARGUMENT, `${action}: the key provider refused the request as invalid`, kmip ?? ResultReason.InvalidField, { cause: e });
    case S.DATA_LOSS:
      return new ServiceError(S.FAILED_PRECONDITION, `${action}: the key material failed its integrity check`, kmip ?? ResultReason.CryptographicFailure, { cause: e });
    default:
      return new ServiceError(S.INTERNAL, `${action} failed in crk-wrapping`, ResultReason.GeneralFailure, { cause: e });
  }
}
