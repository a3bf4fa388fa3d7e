import pino from 'pino';
import type { Emulator } from '@keywarden/keyprotect-emulator';
import { decodeRef } from '../src/sealed-ref';
import type { CallContext } from '../src/providers/types';

// Helpers of the Key Protect tests that read the emulator as a customer would
// (its REST API) and what crk-wrapping logged.

/** A logger (JSON lines, as createLogger writes them) into memory, and a CallContext using it. */
export function capturingLog(): { log: pino.Logger; entries: Array<Record<string, unknown>>; ctx: (crkId: string, credential: string, deadlineMs?: number) => CallContext } {
  const entries: Array<Record<string, unknown>> = [];
  const sink = { write: (line: string) => { entries.push(JSON.parse(line) as Record<string, unknown>); } };
  const log = pino({ level: 'info' }, sink);
  return { log, entries, ctx: (crkId, credential, deadlineMs = 10_000) => ({ crkId, credential, deadline: Date.now() + deadlineMs, log }) };
}

/** Key Protect REST against the emulator, with a token of its own. */
export async function kpRest(emu: Emulator, apiKey: string, instance: string, method: string, path: string, body?: unknown, contentType = 'application/vnd.ibm.kms.key+json'): Promise<{ status: number; body: Record<string, unknown> }> {
  const t = await fetch(`${emu.url}/identity/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'urn:ibm:params:oauth:grant-type:apikey', apikey: apiKey }) });
  const token = ((await t.json()) as { access_token: string }).access_token;
  const r = await fetch(`${emu.url}/api/v2/${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'bluemix-instance': instance, ...(body === undefined ? {} : { 'content-type': contentType }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** The standard key id a Key Protect sealed reference names. */
export function keyIdOf(ref: Buffer): string {
  return (decodeRef(ref) as { keyId: string }).keyId;
}

/** Polls until `cond` holds (or fails the test after `ms`). */
export async function eventually(cond: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
