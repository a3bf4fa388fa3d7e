// Small HTTP helpers of the console: JSON bodies with a size limit, errors
// with a status and a message for the operator, cookies, security headers.
import type { IncomingMessage, ServerResponse } from 'http';

export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly code = '') {
    super(message);
  }
}

/** Largest JSON body accepted: a certificate (64 KiB of PEM, or DER as base64) with room to spare. */
export const MAX_BODY = 256 * 1024;
/** Beyond this a too-large body is not even read to its end: the connection is closed. */
const MAX_DRAIN = 32 * 1024 * 1024;

/**
 * The request's JSON body. A body over `limit` is read to its end and
 * dropped (so the browser gets the answer rather than a reset connection),
 * up to MAX_DRAIN; nothing over `limit` is ever held in memory.
 */
export function readJson(req: IncomingMessage, limit = MAX_BODY): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') {
    req.resume();
    return Promise.reject(new HttpError(415, 'send JSON (Content-Type: application/json)'));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= limit) chunks.push(c);
      else if (size > MAX_DRAIN) req.destroy();
    });
    req.on('error', reject);
    req.on('close', () => reject(new HttpError(400, 'the request ended early')));
    req.on('end', () => {
      if (size > limit) return reject(new HttpError(413, `the upload is ${(size / 1024 / 1024).toFixed(1)} MiB; at most ${limit / 1024} KiB is accepted (a certificate is a few KiB)`));
      try {
        resolve(chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {});
      } catch {
        reject(new HttpError(400, 'the request body is not valid JSON'));
      }
    });
  });
}

/** A string field of a JSON body (required unless `optional`), at most `max` characters. */
export function field(body: unknown, name: string, max: number, optional = false): string {
  const v = (body as Record<string, unknown> | null)?.[name];
  if (v === undefined || v === null || v === '') {
    if (optional) return '';
    throw new HttpError(400, `${name} is required`);
  }
  if (typeof v !== 'string') throw new HttpError(400, `${name} must be text`);
  if (v.length > max) throw new HttpError(400, `${name} is longer than ${max} characters`);
  return v;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

/**
 * On every response. The page loads only its own script and style (no
 * inline script, nothing from elsewhere): text a key or tenant carries can
 * never run as code even if it reached the page unescaped.
 */
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};
