// Calls to the console's JSON API: same origin, the session cookie sent by
// the browser, the CSRF token in a header on every change.

export type Role = 'ADMIN' | 'VIEWER';

export interface SessionInfo {
  operator: string;
  role: Role;
  csrf: string;
}

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly code = '') {
    super(message);
  }
}

let csrf = '';
let onSessionEnd: (message: string) => void = () => undefined;

export function setSession(s: SessionInfo | undefined): void {
  csrf = s?.csrf ?? '';
}

/** Called when the server says the session is over (expired, signed out elsewhere, password changed). */
export function whenSessionEnds(f: (message: string) => void): void {
  onSessionEnd = f;
}

export async function api<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const change = method !== 'GET';
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: change ? { 'content-type': 'application/json', 'x-csrf-token': csrf } : {},
      body: change ? JSON.stringify(body ?? {}) : undefined,
    });
  } catch {
    throw new ApiError(0, 'the console is unreachable; check your connection and reload');
  }
  const data = (await res.json().catch(() => ({ error: `the console answered HTTP ${res.status}` }))) as { error?: string; code?: string };
  if (!res.ok) {
    const err = new ApiError(res.status, data.error ?? `HTTP ${res.status}`, data.code);
    if (res.status === 401 && data.code === 'session' && path !== '/api/session') onSessionEnd(err.message);
    throw err;
  }
  return data as T;
}

/** The URL of an API path with its parts escaped. */
export function apiPath(strings: TemplateStringsArray, ...parts: string[]): string {
  return strings.reduce((out, s, i) => out + s + (i < parts.length ? encodeURIComponent(parts[i]) : ''), '');
}

// ---- what the API returns (the CLI's views, libs/cli/src/views.ts) ----

export interface Tenant {
  id: string;
  name: string;
  provider: { kind: string; endpoint: string; instanceId: string; crkId: string };
  keyCount: number;
  certificateCount: number;
  createdAt: string;
}

export interface RootKey {
  tenantId: string;
  crkId: string;
  state: string;
  currentVersion: string;
  lastRotated: string;
  detail: string;
  keysOnOlderVersions: number;
}

export interface Job {
  jobId: string;
  status: string;
  total: number;
  done: number;
  rewrapped: number;
  failed: number;
  percent: number;
  error: string;
}

export interface Key {
  uniqueIdentifier: string;
  state: string;
  objectType: string;
  cryptographicAlgorithm: string;
  cryptographicLength: number;
  names: string[];
  crkVersion: string;
  tags: { name: string; identifier: string; component: string };
  dates: Record<string, string>;
}

export interface Certificate {
  fingerprint: string;
  tenantId: string;
  subject: string;
  issuer: string;
  notAfter: string;
  daysLeft: number | null;
  expiresSoon: boolean;
  warnings: string[];
}

export interface AuditEntry {
  id: string;
  time: string;
  tenantId: string;
  cert: string;
  op: string;
  uniqueIdentifier: string;
  result: string;
  reason: string;
  operator: string;
  detail: Record<string, string>;
}
