import { grpc, isGrpcError, ServiceError } from '@keywarden/common';

/** A crk-wrapping failure as an Admin API error (gRPC status, operator-readable text). */
export function adminWrappingError(e: unknown, action: string): ServiceError {
  if (e instanceof ServiceError) return e;
  const S = grpc.status;
  if (!isGrpcError(e)) return new ServiceError(S.INTERNAL, `${action} failed`, undefined, { cause: e });
  const detail = e.details || S[e.code];
  switch (e.code) {
    case S.UNAVAILABLE:
    case S.DEADLINE_EXCEEDED:
    case S.RESOURCE_EXHAUSTED:
      return new ServiceError(S.UNAVAILABLE, `${action}: the key provider is unavailable (${detail})`, undefined, { cause: e });
    case S.INVALID_ARGUMENT:
    case S.NOT_FOUND:
    case S.FAILED_PRECONDITION:
    case S.PERMISSION_DENIED:
    case S.UNAUTHENTICATED:
    case S.ALREADY_EXISTS:
      return new ServiceError(e.code === S.UNAUTHENTICATED ? S.FAILED_PRECONDITION : e.code, `${action}: ${detail}`, undefined, { cause: e });
    default:
      return new ServiceError(S.INTERNAL, `${action} failed in crk-wrapping`, undefined, { cause: e });
  }
}
