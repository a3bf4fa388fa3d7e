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
  timeout: string;
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

/** gRPC status -> exit code: 3 not found, 4 precondition/conflict, 5 permission, 6 unavailable, 1 other. */
export function exitCodeFor(e: unknown): number {
  if (!isGrpcError(e)) return 1;
  switch (e.code) {
    case grpc.status.NOT_FOUND: return 3;
    case grpc.status.ALREADY_EXISTS:
    case grpc.status.FAILED_PRECONDITION: return 4;
    case grpc.status.PERMISSION_DENIED:
    case grpc.status.UNAUTHENTICATED: return 5;
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED: return 6;
    case grpc.status.INVALID_ARGUMENT: return 2;
    default: return 1;
  }
}

export function describeError(e: unknown, endpoint: string): string {
  if (isGrpcError(e)) {
    if (e.code === grpc.status.UNAVAILABLE) return `cannot reach the Admin API at ${endpoint}: ${e.details} (is the stack running? --endpoint / KEYWARDEN_ADMIN_ADDR)`;
    return e.details || e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

export function createCtx(o: GlobalOptions): Ctx {
  const endpoint = resolveEndpoint(o);
  // An operator certificate of the internal CA: --pki-dir, or the local stack's pki/internal.
  const pkiDir = o.pkiDir ?? path.join(o.dataDir, 'pki', 'internal');
  let tls;
  try {
    tls = loadTlsFiles(pkiDir, o.cert ?? 'admin');
  } catch (e) {
    throw new CliError(`${(e as Error).message}\n(use --pki-dir DIR holding ca.crt and ${o.cert ?? 'admin'}.crt/.key, or --data-dir of a local stack)`);
  }
  const creds = channelCredentials(tls);
  const admin = new adminV1.AdminClient(endpoint, creds, channelOptions());
  const lifecycle = new lifecycleV1.KeyLifecycleClient(endpoint, creds, channelOptions());
  const timeoutMs = Number(o.timeout) * 1000;
  return {
    opts: o,
    admin,
    lifecycle,
    call: <Res>(method: string, req: object) => new Promise<Res>((resolve, reject) => {
      const target = method.startsWith('lifecycle.') ? lifecycle : admin;
      const m = method.replace(/^lifecycle\./, '');
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      (target as any)[m](req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err: Error | null, res: Res) => {
        if (err) reject(new CliError(describeError(err, endpoint), exitCodeFor(err)));
        else resolve(res);
      });
    }),
    out(human, json) {
      process.stdout.write(o.json ? JSON.stringify(json, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n' : human + (human.endsWith('\n') ? '' : '\n'));
    },
    close() {
      admin.close();
      lifecycle.close();
    },
  };
}
