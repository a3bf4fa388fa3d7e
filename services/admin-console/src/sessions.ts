// Console sessions: in this process's memory only (docs/console.md, "Sessions").
// The cookie holds 32 random bytes; the table is keyed by their SHA-256, so
// the tokens themselves are nowhere in memory after the response. Each
// session carries its CSRF token (returned to the page, sent back in a header
// on every change) and ends after an idle time or a maximum age, at sign-out,
// or when key-lifecycle refuses the account (removed, password changed).
import { createHash, randomBytes, timingSafeEqual } from 'crypto';
import type { Actor } from './admin';

export type Role = 'ADMIN' | 'VIEWER';

export interface Session {
  operator: string;
  role: Role;
  epoch: string;
  csrf: string;
  createdAt: number;
  lastSeen: number;
}

export interface SessionLimits {
  /** A session unused this long ends (default 15 minutes). */
  idleMs: number;
  /** A session ends this long after sign-in, used or not (default 8 hours). */
  maxAgeMs: number;
  /** Sessions held at once; the least recently used go first (default 10000). */
  maxSessions: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = { idleMs: 15 * 60_000, maxAgeMs: 8 * 3_600_000, maxSessions: 10_000 };

const digest = (token: string) => createHash('sha256').update(token).digest('base64url');

export type Lookup = { session: Session; key: string } | { expired: boolean };

export class Sessions {
  private readonly byKey = new Map<string, Session>();

  constructor(readonly limits: SessionLimits = DEFAULT_SESSION_LIMITS, private readonly now = () => Date.now()) {}

  /** A new session; returns the cookie token (never stored). */
  create(operator: string, role: Role, epoch: string): { token: string; session: Session } {
    const token = randomBytes(32).toString('base64url');
    const t = this.now();
    const session: Session = { operator, role, epoch, csrf: randomBytes(32).toString('base64url'), createdAt: t, lastSeen: t };
    while (this.byKey.size >= this.limits.maxSessions) this.byKey.delete(this.byKey.keys().next().value as string);
    this.byKey.set(digest(token), session);
    return { token, session };
  }

  /** The session of a cookie token, touched; or whether it existed and ran out. */
  get(token: string | undefined): Lookup {
    if (!token || token.length > 128) return { expired: false };
    const key = digest(token);
    const s = this.byKey.get(key);
    if (!s) return { expired: false };
    const t = this.now();
    if (t - s.lastSeen > this.limits.idleMs || t - s.createdAt > this.limits.maxAgeMs) {
      this.byKey.delete(key);
      return { expired: true };
    }
    s.lastSeen = t;
    // Most recently used last, so the oldest go first when the table is full.
    this.byKey.delete(key);
    this.byKey.set(key, s);
    return { session: s, key };
  }

  end(key: string): void {
    this.byKey.delete(key);
  }

  /** Ends every session of an account (key-lifecycle refused it). */
  endAllOf(operator: string): void {
    for (const [k, s] of this.byKey) if (s.operator === operator) this.byKey.delete(k);
  }

  get size(): number {
    return this.byKey.size;
  }
}

export const actorOf = (s: Session): Actor => ({ name: s.operator, epoch: s.epoch });

/** Whether a request's CSRF header is the session's token (constant time). */
export function csrfMatches(s: Session, header: string | undefined): boolean {
  if (!header) return false;
  const a = Buffer.from(header);
  const b = Buffer.from(s.csrf);
  return a.length === b.length && timingSafeEqual(a, b);
}
