// The KMIP endpoint: TLS 1.2/1.3 with client certificates on port 5696.
import net from 'net';
import tls from 'tls';
import { Logger, certFingerprint, createLogger, createRegistry, grpc, isGrpcError, startMetricsServer } from '@keywarden/common';
import { Operation, ResultReason } from '@keywarden/kmip';
import type { Registry } from 'prom-client';
import type { LifecycleBackend } from './backend';
import { Connection, ConnectionLimits } from './connection';
import { passwordCheck } from './credentials';
import { Dispatcher, Identity } from './dispatch';
import { GatewayMetrics, createGatewayMetrics } from './metrics';

/**
 * Default TLS 1.2 suites: forward-secret AEAD first (ECDHE with GCM or
 * ChaCha20), then RSA-key-exchange AES-GCM and AES-CBC-SHA256, which vCenter
 * 7.0.3 was seen negotiating (docs/vcenter.md). No SHA-1, RC4, 3DES, export
 * or anonymous suites. TLS 1.3 suites are always on.
 */
export const DEFAULT_CIPHERS = [
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
  'AES256-GCM-SHA384', 'AES128-GCM-SHA256', 'AES256-SHA256', 'AES128-SHA256',
].join(':');

export type TrustMode = 'fingerprint' | 'ca';

export interface GatewayOptions {
  port: number;
  host?: string;
  /** Server certificate chain and key (RSA or ECDSA), PEM. */
  cert: Buffer | string;
  key: Buffer | string;
  /**
   * fingerprint (default): any client certificate completes the handshake and
   * is identified by its registered SHA-256 fingerprint (vCenter's self-signed
   * certificates work). ca: the certificate must also chain to `clientCa`.
   */
  trustMode?: TrustMode;
  clientCa?: Buffer | string;
  ciphers?: string;
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  backend: LifecycleBackend;
  maxMessageSize?: number;
  /** Batch items per request (default 256). */
  maxBatchItems?: number;
  handshakeTimeoutMs?: number;
  readTimeoutMs?: number;
  idleTimeoutMs?: number;
  maxConnections?: number;
  /**
   * Connections one source may hold at once, handshake done or not (default
   * 5000): one client cannot take the whole pool. A source is an IPv4 address,
   * or an IPv6 /64 (one host may use any address of its /64). Connections
   * over the limit are closed at accept, before any TLS work.
   */
  maxConnectionsPerSource?: number;
  /** A connection whose certificate is not registered is closed after this long without a request (default 5000 ms; 0: never). */
  unregisteredTimeoutMs?: number;
  /** After the gateway ended a connection, the client has this long to close its side (default 2000 ms). */
  closeLingerMs?: number;
  maxQueuedMessages?: number;
  logger?: Logger;
  registry?: Registry;
  metricsPort?: number;
  /** Address the metrics port binds (default 0.0.0.0). */
  metricsHost?: string;
}

export interface Gateway {
  port: number;
  metricsPort?: number;
  connectionCount(): number;
  /** Stops accepting, lets in-flight requests finish (up to graceMs), then closes everything. */
  close(graceMs?: number): Promise<void>;
}

/** Operation numbers KMIP defines (any version): the values the operation metric label may take, besides 'other'. */
const KNOWN_OPERATIONS = new Set<number>(Object.values(Operation));

/** Default of maxConnectionsPerSource: see docs/kmip-gateway.md (Protection) for the vCenter-behind-NAT arithmetic. */
export const DEFAULT_MAX_CONNECTIONS_PER_SOURCE = 5000;

/**
 * The key a connection is counted under for the per-source limit: the IPv4
 * address (also when it arrives IPv4-mapped on an IPv6 socket), or the /64
 * of an IPv6 address.
 */
export function sourceKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const addr = address.replace(/%.*$/, '').toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(addr);
  if (mapped) return mapped[1];
  if (net.isIPv4(addr)) return addr;
  if (!net.isIPv6(addr)) return addr;
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, undefined];
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const left = groups(head);
  // An embedded dotted quad takes the last two groups; the first four are all the /64 needs.
  const right = groups(tail).flatMap((g) => (g.includes('.') ? ['0', '0'] : [g]));
  const all = tail === undefined ? left.flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])) : [...left, ...new Array(8 - left.length - right.length).fill('0'), ...right];
  return `${all.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

export function unregisteredMessage(fp: string): string {
  return `client certificate not registered: add it to a tenant (keywarden cert add), fingerprint sha256:${fp}`;
}

/** Waits for `p`, at most `ms`. */
function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((r) => { timer = setTimeout(r, ms); timer.unref(); });
  return Promise.race([p.then(() => undefined), bound]).finally(() => clearTimeout(timer));
}

export async function startGateway(o: GatewayOptions): Promise<Gateway> {
  const log = o.logger ?? createLogger('kmip-gateway');
  const registry = o.registry ?? createRegistry('kmip-gateway');
  const metrics: GatewayMetrics = createGatewayMetrics(registry);
  const limits: ConnectionLimits = {
    maxMessageSize: o.maxMessageSize ?? 1024 * 1024,
    readTimeoutMs: o.readTimeoutMs ?? 10_000,
    idleTimeoutMs: o.idleTimeoutMs ?? 300_000,
    maxQueued: o.maxQueuedMessages ?? 8,
    lingerMs: o.closeLingerMs ?? 2000,
    unregisteredTimeoutMs: o.unregisteredTimeoutMs ?? 5000,
  };
  const maxPerSource = o.maxConnectionsPerSource ?? DEFAULT_MAX_CONNECTIONS_PER_SOURCE;
  const trustMode = o.trustMode ?? 'fingerprint';
  if (trustMode === 'ca' && !o.clientCa) throw new Error('trust mode "ca" needs clientCa');

  const counters = new Map<string, { inc(): void }>();
  const histograms = new Map<string, { observe(v: number): void }>();
  const dispatcher = new Dispatcher({
    backend: o.backend,
    log,
    maxMessageSize: limits.maxMessageSize,
    maxBatchItems: o.maxBatchItems,
    observe: (operation, status, reason, seconds) => {
      // The operation comes from the client: a number KMIP does not define is
      // one label value, 'other', or every made-up number would be a series
      // of its own (unbounded memory here and in Prometheus).
      const op = KNOWN_OPERATIONS.has(operation) ? String(operation) : 'other';
      // Label children are looked up once per distinct label set (prom-client hashes labels on every call otherwise).
      const k = `${op}|${status}|${reason ?? ''}`;
      let c = counters.get(k);
      if (!c) counters.set(k, (c = metrics.operations.labels(op, String(status), reason === undefined ? '' : String(reason))));
      c.inc();
      let h = histograms.get(op);
      if (!h) histograms.set(op, (h = metrics.operationSeconds.labels(op)));
      h.observe(seconds);
    },
  });

  const connections = new Set<Connection>();
  const byFingerprint = new Map<string, Set<Connection>>();

  /**
   * The password setting (IdentifyResponse.passwordEpoch) under which each
   * fingerprint's open connections were identified, MIXED once they differ:
   * after the revocation stream was down, connections whose setting changed
   * meanwhile are closed, as a revocation would have closed them.
   */
  const epochs = new Map<string, string>();
  const MIXED = '*';
  const noteEpoch = (fp: string, epoch: string) => {
    if (!byFingerprint.has(fp)) return;
    const seen = epochs.get(fp);
    if (seen === undefined) epochs.set(fp, epoch);
    else if (seen !== epoch) epochs.set(fp, MIXED);
  };

  const identify = async (fp: string | undefined): Promise<Identity> => {
    if (!fp) return { ok: false, reason: ResultReason.PermissionDenied, message: 'no client certificate presented' };
    try {
      const r = await o.backend.identify({ caller: { certFingerprint: fp } });
      noteEpoch(fp, r.passwordEpoch ?? '');
      // One check per identified connection: it keeps what that connection's password was verified as.
      const credential = r.passwordRequired ? passwordCheck({ fingerprint: fp, backend: o.backend, log }) : undefined;
      return { ok: true, caller: { certFingerprint: fp }, ...(credential ? { credential } : {}) };
    } catch (e) {
      if (isGrpcError(e) && (e.code === grpc.status.PERMISSION_DENIED || e.code === grpc.status.NOT_FOUND || e.code === grpc.status.UNAUTHENTICATED)) {
        log.warn({ fingerprint: fp }, 'refused an unregistered client certificate');
        return { ok: false, reason: ResultReason.PermissionDenied, message: unregisteredMessage(fp) };
      }
      log.error({ err: e }, 'could not identify a client certificate');
      return { ok: false, reason: ResultReason.GeneralFailure, message: 'key service temporarily unavailable' };
    }
  };

  const started = new WeakMap<net.Socket, bigint>();
  const server = tls.createServer({
    cert: o.cert,
    key: o.key,
    ca: trustMode === 'ca' ? o.clientCa : undefined,
    requestCert: true,
    rejectUnauthorized: trustMode === 'ca',
    ciphers: o.ciphers ?? DEFAULT_CIPHERS,
    honorCipherOrder: true,
    minVersion: o.minVersion ?? 'TLSv1.2',
    maxVersion: o.maxVersion ?? 'TLSv1.3',
    handshakeTimeout: o.handshakeTimeoutMs ?? 10_000,
    // Not half-open before the handshake: a client that closes before it is
    // done is closed at once (half-open, its socket waited for the handshake
    // timeout). Established connections are made half-open below.
    allowHalfOpen: false,
  });
  server.maxConnections = o.maxConnections ?? 20_000;
  (server as net.Server).on('drop', () => metrics.refused.inc({ reason: 'max-connections' }));

  // Every accepted socket, handshake done or not, so shutdown can end them all.
  const rawSockets = new Set<net.Socket>();
  const perSource = new Map<string, number>();
  // Closed at accept for being over the per-source limit: their TLS sockets' errors are not handshake failures.
  const refusedAtAccept = new WeakSet<net.Socket>();
  server.on('connection', (raw: net.Socket) => {
    const source = sourceKey(raw.remoteAddress);
    const held = perSource.get(source) ?? 0;
    if (held >= maxPerSource) {
      // Before the client's hello is read: no TLS work is spent on it.
      refusedAtAccept.add(raw);
      metrics.refused.inc({ reason: 'per-source' });
      log.debug({ source }, 'refused a connection over the per-source limit');
      raw.destroy();
      return;
    }
    perSource.set(source, held + 1);
    started.set(raw, process.hrtime.bigint());
    raw.setNoDelay(true);
    rawSockets.add(raw);
    metrics.sockets.inc();
    raw.once('close', () => {
      rawSockets.delete(raw);
      metrics.sockets.dec();
      const n = (perSource.get(source) ?? 1) - 1;
      if (n > 0) perSource.set(source, n);
      else perSource.delete(source);
    });
  });
  server.on('tlsClientError', (err, sock) => {
    // Node leaves a socket whose handshake failed or timed out open: close it here.
    sock.destroy();
    const raw = (sock as unknown as { _parent?: net.Socket })._parent;
    if (raw && refusedAtAccept.has(raw)) return;
    metrics.handshakes.inc({ result: 'failed' });
    log.debug({ err: err.message, remote: sock.remoteAddress }, 'TLS handshake failed');
  });
  server.on('secureConnection', (sock: tls.TLSSocket) => {
    const raw = (sock as unknown as { _parent?: net.Socket })._parent;
    const t0 = raw ? started.get(raw) : undefined;
    if (t0 !== undefined) metrics.handshakeSeconds.observe(Number(process.hrtime.bigint() - t0) / 1e9);
    metrics.handshakes.inc({ result: 'ok' });
    // The DER of the client certificate, for its fingerprint. getPeerCertificate
    // costs ~80 µs on a connection's first call, getPeerX509Certificate ~200 µs:
    // under a storm of new connections that is CPU the handshakes need. Without
    // a client certificate it returns an empty object (no raw).
    const der: Buffer | undefined = sock.getPeerCertificate(false).raw;
    const fp = der ? certFingerprint(der) : undefined;
    if (closing) { sock.destroy(); return; }
    // A client that half-closes after its last request still gets the answers.
    sock.allowHalfOpen = true;
    const conn = new Connection(sock, fp, dispatcher, identify, limits, log, (cause) => {
      connections.delete(conn);
      if (fp) {
        const set = byFingerprint.get(fp);
        set?.delete(conn);
        if (set && set.size === 0) {
          byFingerprint.delete(fp);
          epochs.delete(fp);
        }
      }
      metrics.connections.dec();
      metrics.closed.inc({ cause });
    });
    connections.add(conn);
    if (fp) {
      let set = byFingerprint.get(fp);
      if (!set) byFingerprint.set(fp, (set = new Set()));
      set.add(conn);
    }
    metrics.connections.inc();
  });

  // A removed certificate, or one whose password was set or cleared, loses its
  // open connections at once. After the revocation stream was broken, every
  // open connection is identified again.
  const stopWatching = o.backend.watchAccessRevocations((fp) => {
    const set = byFingerprint.get(fp);
    if (!set) return;
    log.info({ fingerprint: fp, connections: set.size }, 'access revoked: closing connections');
    for (const c of set) c.destroy('revoked');
  }, () => {
    for (const [fp, set] of byFingerprint) {
      const before = epochs.get(fp);
      identify(fp).then((id) => {
        if (id.ok) {
          // Identified before under another password setting (or under several): the change was missed.
          const now = epochs.get(fp);
          if (before === undefined || (before !== MIXED && now === before)) return;
          log.info({ fingerprint: fp, connections: set.size }, 'password set or cleared while the revocation stream was down: closing connections');
        } else if (id.reason === ResultReason.PermissionDenied) {
          log.info({ fingerprint: fp, connections: set.size }, 'access ended while the revocation stream was down: closing connections');
        } else {
          return;
        }
        for (const c of set) c.destroy('revoked');
      }, () => undefined);
    }
  });

  let closing = false;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host ?? '0.0.0.0', () => { server.off('error', reject); resolve(); });
  });
  server.on('error', (err) => log.error({ err }, 'server error'));
  const metricsServer = o.metricsPort !== undefined ? await startMetricsServer(registry, o.metricsPort, o.metricsHost) : undefined;
  const port = (server.address() as net.AddressInfo).port;
  log.info({ port, trustMode }, 'KMIP gateway listening');

  return {
    port,
    metricsPort: metricsServer?.port,
    connectionCount: () => connections.size,
    close: async (graceMs = 5000) => {
      closing = true;
      stopWatching();
      const stopped = new Promise<void>((r) => server.close(() => r()));
      for (const c of connections) c.drain();
      await within(Promise.all([...connections].map((c) => c.closed)), graceMs);
      // Whatever is left (clients that never read or close, handshakes in progress) is cut.
      const left = [...connections];
      for (const c of left) c.destroy('shutdown');
      for (const raw of rawSockets) raw.destroy();
      // Destroyed sockets close on the next turns of the event loop; the bound is only a guard.
      await within(Promise.all([stopped, ...left.map((c) => c.closed)]), 1000);
      if (metricsServer) await within(metricsServer.close(), 1000);
    },
  };
}
