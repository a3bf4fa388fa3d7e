import http from 'http';
import https from 'https';
import type { AddressInfo } from 'net';
import path from 'path';
import { channelCredentials, checkHealth, createLogger, Logger, TlsFiles } from '@keywarden/common';
import { AdminGateway } from './admin';
import { AttemptLimiter } from './limiter';
import { createHandler } from './server';
import { DEFAULT_SESSION_LIMITS, SessionLimits, Sessions } from './sessions';

export interface AdminConsoleOptions {
  /** host:port of the HTTPS listener; port 0 picks a free one. */
  address: string;
  /** The HTTPS server certificate and key (PEM) people's browsers see. */
  https: { cert: Buffer; key: Buffer };
  /** The Admin API (key-lifecycle), e.g. dns:///key-lifecycle:7001. */
  adminAddress: string;
  /** The internal CA and the console's operator certificate (spiffe://keywarden/operator/console). */
  adminTls: TlsFiles;
  /** The built page; default dist/public of this package. */
  publicDir?: string;
  /** Plaintext /healthz and /readyz (nothing else) for probes; none when absent. */
  healthAddress?: string;
  sessions?: Partial<SessionLimits>;
  /** Sign-in attempts per client address in a window (default 10 per 5 minutes). */
  loginAttempts?: { max: number; windowMs: number };
  logger?: Logger;
}

export interface AdminConsole {
  port: number;
  url: string;
  healthPort?: number;
  close(): Promise<void>;
}

function split(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  if (i < 0) throw new Error(`"${address}" is not host:port`);
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
}

function listen(server: http.Server, address: string): Promise<number> {
  const { host, port } = split(address);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

const closeServer = (s: http.Server) => new Promise<void>((resolve) => {
  s.close(() => resolve());
  s.closeAllConnections();
});

/** Starts the admin console (docs/console.md). */
export async function startAdminConsole(o: AdminConsoleOptions): Promise<AdminConsole> {
  const log = o.logger ?? createLogger('admin-console');
  const admin = new AdminGateway(o.adminAddress, o.adminTls);
  const sessions = new Sessions({ ...DEFAULT_SESSION_LIMITS, ...o.sessions });
  const limiter = new AttemptLimiter(o.loginAttempts?.max ?? 10, o.loginAttempts?.windowMs ?? 5 * 60_000);
  const handler = createHandler({ admin, sessions, limiter, publicDir: o.publicDir ?? path.resolve(__dirname, '..', 'dist', 'public'), log });
  const server = https.createServer({ cert: o.https.cert, key: o.https.key, minVersion: 'TLSv1.2' }, handler);
  // A slow client cannot hold a connection open forever; a rewrap progress stream answers within this.
  server.headersTimeout = 20_000;
  server.requestTimeout = 0;
  server.keepAliveTimeout = 5_000;
  let health: http.Server | undefined;
  try {
    const port = await listen(server, o.address);
    let healthPort: number | undefined;
    if (o.healthAddress !== undefined) {
      const creds = channelCredentials(o.adminTls);
      health = http.createServer((req, res) => {
        if (req.url === '/healthz') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        if (req.url !== '/readyz') return void res.writeHead(404).end();
        // Ready while the Admin API answers: without it the console can do nothing.
        checkHealth(o.adminAddress, creds, 'keywarden.admin.v1.Admin').then(
          (s) => res.writeHead(s === 'SERVING' ? 200 : 503, { 'content-type': 'text/plain' }).end(`${s}\n`),
          () => res.writeHead(503, { 'content-type': 'text/plain' }).end('Admin API unreachable\n'),
        );
      });
      healthPort = await listen(health, o.healthAddress);
    }
    const { host } = split(o.address);
    const shown = host === '0.0.0.0' || host === '::' || host === '127.0.0.1' ? 'localhost' : host;
    const url = `https://${shown}:${port}/`;
    log.info({ url, admin: o.adminAddress, healthPort }, 'admin console listening');
    return {
      port, url, healthPort,
      close: async () => {
        await closeServer(server);
        if (health) await closeServer(health);
        admin.close();
      },
    };
  } catch (e) {
    server.close();
    health?.close();
    admin.close();
    throw e;
  }
}

export { AdminGateway } from './admin';
export { COOKIE, CSRF_HEADER } from './server';
