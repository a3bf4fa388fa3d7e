// How the CLI reaches the Admin API: endpoint and mTLS material from flags,
// the environment, or the local stack's data directory (npm start).
import fs from 'fs';
import path from 'path';
import { channelCredentials, channelOptions, grpc, isGrpcError, loadTlsFiles } from '@keywarden/common';
import { adminV1, lifecycleV1 } from '@keywarden/proto';

export interface GlobalOptions {
  dataDir: string;
  endpoint?: string;
  pkiDir?: string;
  cert?: string;
  json?: boolean;
  /** Per-call deadline in seconds (checked when parsed: options.ts). */
  timeout: number;
}

export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

export interface Ctx {
  opts: GlobalOptions;
  admin: adminV1.AdminClient;
  lifecycle: lifecycleV1.KeyLifecycleClient;
  call<Res>(method: string, req: object): Promise<Res>;
  out(human: string, json: unknown): void;
  /** The Admin API address in use (for messages). */
  endpoint: string;
  close(): void;
}

function resolveEndpoint(o: GlobalOptions): string {
  if (o.endpoint) return o.endpoint;
  if (process.env.KEYWARDEN_ADMIN_ADDR) return process.env.KEYWARDEN_ADMIN_ADDR;
  const state = path.join(o.dataDir, 'stack.json');
  if (fs.existsSync(state)) {
    const s = JSON.parse(fs.readFileSync(state, 'utf8')) as { lifecyclePort?: number };
    if (s.lifecyclePort) return `localhost:${s.lifecyclePort}`;
  }
  return 'localhost:7001';
}

/**
 * gRPC status -> exit code (README, "Operator CLI"): 2 usage (the server
 * refused the arguments), 3 not found, 4 conflict/precondition, 5
 * permission, 6 unreachable or too busy (try again), 1 anything else.
 */
export function exitCodeFor(e: unknown): number {
  if (!isGrpcError(e)) return 1;
  switch (e.code) {
    case grpc.status.NOT_FOUND: return 3;
    case grpc.status.ALREADY_EXISTS:
    case grpc.status.FAILED_PRECONDITION:
    case grpc.status.ABORTED: return 4;
    case grpc.status.PERMISSION_DENIED:
    case grpc.status.UNAUTHENTICATED: return 5;
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
    case grpc.status.RESOURCE_EXHAUSTED: return 6;
    case grpc.status.INVALID_ARGUMENT:
    case grpc.status.OUT_OF_RANGE: return 2;
    default: return 1;
  }
}

/** A failure of a call or stream as the CLI reports it: the server's message and the exit code for its status. */
export function callError(e: unknown, endpoint: string): CliError {
  return new CliError(describeError(e, endpoint), exitCodeFor(e));
}

/**
 * JSON of a value the commands did not already turn into a view (views.ts):
 * 64-bit counts as numbers, never as strings.
 */
export function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? (x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x.toString()) : x), 2);
}

export function describeError(e: unknown, endpoint: string): string {
  if (isGrpcError(e)) {
    if (e.code === grpc.status.UNAVAILABLE) return `cannot reach the Admin API at ${endpoint}: ${e.details} (is the stack running? --endpoint / KEYWARDEN_ADMIN_ADDR)`;
    return e.details || e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

type Messages = Record<string, { fromPartial?: (o: object) => object } | undefined>;

/**
 * The request message of a method with every field it omits at its default:
 * ts-proto encodes whole messages only (a map left out fails to serialize).
 */
function complete(pkg: object, method: string, req: object): object {
  const type = (pkg as Messages)[`${method[0].toUpperCase()}${method.slice(1)}Request`];
  return type?.fromPartial ? type.fromPartial(req) : req;
}

export function createCtx(o: GlobalOptions): Ctx {
  const endpoint = resolveEndpoint(o);
  // An operator certificate of the internal CA: --pki-dir, or the local stack's pki/internal.
  const pkiDir = o.pkiDir ?? path.join(o.dataDir, 'pki', 'internal');
  let tls;
  try {
    tls = loadTlsFiles(pkiDir, o.cert ?? 'admin');
  } catch (e) {
    throw new CliError(`${(e as Error).message}\n(use --pki-dir DIR or KEYWARDEN_PKI_DIR holding ca.crt and ${o.cert ?? 'admin'}.crt/.key, or --data-dir of a local stack)`);
  }
  const creds = channelCredentials(tls);
  const admin = new adminV1.AdminClient(endpoint, creds, channelOptions());
  const lifecycle = new lifecycleV1.KeyLifecycleClient(endpoint, creds, channelOptions());
  const timeoutMs = o.timeout * 1000;
  return {
    opts: o,
    endpoint,
    admin,
    lifecycle,
    call: <Res>(method: string, req: object) => new Promise<Res>((resolve, reject) => {
      const target = method.startsWith('lifecycle.') ? lifecycle : admin;
      const m = method.replace(/^lifecycle\./, '');
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      (target as any)[m](complete(target === admin ? adminV1 : lifecycleV1, m, req), new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err: Error | null, res: Res) => {
        if (err) reject(callError(err, endpoint));
        else resolve(res);
      });
    }),
    out(human, json) {
      process.stdout.write(o.json ? toJson(json) + '\n' : human + (human.endsWith('\n') ? '' : '\n'));
    },
    close() {
      admin.close();
      lifecycle.close();
    },
  };
}
