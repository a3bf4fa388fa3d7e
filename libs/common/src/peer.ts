// Who is calling a gRPC service: the client certificate of the mTLS
// connection, and the keywarden role it carries.
//
// Roles are URI subject alternative names `spiffe://keywarden/<role>` (an
// operator's may name the person: `spiffe://keywarden/operator/<name>`).
// Only certificates of the internal CA reach a keywarden gRPC server (the
// servers trust nothing else), and that CA issues role names only to the
// services and operators (docs/architecture.md, "Trust model"). A common name
// grants nothing: anyone who can have a certificate signed can choose one.
import { createHash, X509Certificate } from 'crypto';
import { TLSSocket } from 'tls';
import { grpc, ServiceError } from './grpc';

export const SPIFFE_PREFIX = 'spiffe://keywarden/';

/** The roles of keywarden's own components. */
export const ROLES = ['kmip-gateway', 'key-lifecycle', 'crk-wrapping', 'operator'] as const;
export type Role = (typeof ROLES)[number];

/** The URI SAN that names a role (and, for operators, who). */
export function roleUri(role: Role, name?: string): string {
  if (name !== undefined && !NAME.test(name)) throw new Error(`"${name}" is not a valid name for a role URI (letters, digits, ".", "_", "-")`);
  return `${SPIFFE_PREFIX}${role}${name ? `/${name}` : ''}`;
}

const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const ROLE_URI = new RegExp(`^${SPIFFE_PREFIX.replace(/[/.]/g, '\\$&')}(${ROLES.join('|')})(?:/([A-Za-z0-9._-]{1,64}))?$`);

export interface Peer {
  /** SHA-256 of the certificate's DER, lower-case hex (the same identity KMIP clients have). */
  fingerprint: string;
  /**
   * The one role the certificate names, if any. A certificate naming two
   * roles, or anything under spiffe://keywarden/ that is not a role, has none
   * (see `refusal`).
   */
  role?: Role;
  /** The name after the role, e.g. the operator's (`spiffe://keywarden/operator/alice`). */
  name?: string;
  /** Why the certificate can have no role, when it tried to name one badly. */
  refusal?: string;
}

/** The URI entries of a certificate's subjectAltName as Node prints it ("URI:a, DNS:b"). */
function uriSans(x: X509Certificate): string[] {
  const san = x.subjectAltName;
  if (!san) return [];
  // Node quotes entries that contain a separator, so a split on ", " cannot
  // turn one entry into two that each look whole; quoted entries never match
  // ROLE_URI (they keep their quotes).
  return san.split(', ').filter((e) => e.startsWith('URI:')).map((e) => e.slice(4));
}

/** Reads the role of a certificate (see Peer). */
export function peerFromCertificate(x: X509Certificate): Peer {
  const fingerprint = createHash('sha256').update(x.raw).digest('hex');
  const ours = uriSans(x).filter((u) => u.toLowerCase().startsWith(SPIFFE_PREFIX));
  if (ours.length === 0) return { fingerprint };
  if (ours.length > 1) return { fingerprint, refusal: `the certificate names ${ours.length} keywarden roles; a certificate has at most one` };
  const m = ROLE_URI.exec(ours[0]);
  if (!m) return { fingerprint, refusal: `the certificate names "${ours[0]}", which is not a keywarden role` };
  return { fingerprint, role: m[1] as Role, name: m[2] };
}

/**
 * The role-bearing names of a certificate request or certificate, for the
 * issuing side: `sign-csr`/`issue-client` must not hand out a role.
 */
export function namesInternalRole(uris: string[]): boolean {
  return uris.some((u) => u.toLowerCase().startsWith(SPIFFE_PREFIX));
}

type AnyCall = { getAuthContext?: () => { sslPeerCertificate?: { raw?: Buffer } } | null } & Record<string, unknown>;

/**
 * The TLS socket a call arrived on. grpc-js's public getAuthContext() builds
 * a whole PeerCertificate object on every call (~45 µs of CPU), which the
 * services' hot paths cannot afford per call; the socket lets the peer be
 * read once per connection. It is reached through grpc-js internals
 * (call.call[.nextCall…].stream.session.socket, grpc-js 1.10–1.14); when they
 * change shape this returns undefined and peerOf falls back to the public API.
 */
function socketOf(call: AnyCall): TLSSocket | undefined {
  let c = call.call as Record<string, unknown> | undefined;
  for (let i = 0; i < 8 && c && !c.stream && c.nextCall; i++) c = c.nextCall as Record<string, unknown>;
  const session = (c?.stream as { session?: { socket?: unknown } } | undefined)?.session;
  const s = session?.socket;
  return s instanceof TLSSocket ? s : undefined;
}

const bySocket = new WeakMap<TLSSocket, Peer>();
/** Peers by fingerprint for the fallback path (bounded; starts over when full). */
const byFingerprint = new Map<string, Peer>();
const MAX_REMEMBERED = 4096;

/**
 * The authenticated client certificate of a call, or undefined on a
 * plaintext server (development only) or when the client sent none.
 */
export function peerOf(call: object): Peer | undefined {
  const socket = socketOf(call as AnyCall);
  if (socket) {
    if (!socket.authorized) return undefined;
    let p = bySocket.get(socket);
    if (!p) {
      const x = socket.getPeerX509Certificate();
      if (!x) return undefined;
      p = peerFromCertificate(x);
      bySocket.set(socket, p);
    }
    return p;
  }
  const raw = (call as AnyCall).getAuthContext?.()?.sslPeerCertificate?.raw;
  if (!raw) return undefined;
  const fp = createHash('sha256').update(raw).digest('hex');
  let p = byFingerprint.get(fp);
  if (!p) {
    p = peerFromCertificate(new X509Certificate(raw));
    if (byFingerprint.size >= MAX_REMEMBERED) byFingerprint.clear();
    byFingerprint.set(fp, p);
  }
  return p;
}

/** PERMISSION_DENIED naming what the caller lacks (never what the server holds). */
export function roleRequired(allowed: readonly Role[], peer: Peer | undefined, what: string): ServiceError {
  const who = !peer ? 'a caller without a client certificate'
    : peer.refusal ? `this certificate (${peer.refusal})`
    : peer.role ? `the ${peer.role} role` : 'a certificate without a keywarden role';
  return new ServiceError(grpc.status.PERMISSION_DENIED, `${what} is for ${allowed.join(' or ')} identities only; ${who} may not use it`);
}

/**
 * Throws PERMISSION_DENIED unless the caller holds one of `allowed`. `secure`
 * is whether the server runs mTLS at all: a plaintext server (development,
 * explicitly enabled) has no identities to check.
 */
export function requireRole(call: object, secure: boolean, allowed: readonly Role[], what: string): Peer | undefined {
  if (!secure) return undefined;
  const peer = peerOf(call);
  if (!peer?.role || !allowed.includes(peer.role)) throw roleRequired(allowed, peer, what);
  return peer;
}

/**
 * Puts a role check in front of every unary handler of a service
 * implementation: a caller without one of `allowed` gets PERMISSION_DENIED
 * before the handler runs.
 */
export function guardUnary<T extends object>(impl: T, secure: boolean, allowed: readonly Role[], what: string): T {
  if (!secure) return impl;
  const out: Record<string, unknown> = {};
  for (const [k, h] of Object.entries(impl)) {
    const handler = h as (call: object, cb: (e: Partial<grpc.StatusObject> | null) => void) => void;
    out[k] = (call: object, cb: (e: Partial<grpc.StatusObject> | null) => void) => {
      try {
        requireRole(call, secure, allowed, what);
      } catch (e) {
        cb((e as ServiceError).toStatus());
        return;
      }
      handler(call, cb);
    };
  }
  return out as T;
}
