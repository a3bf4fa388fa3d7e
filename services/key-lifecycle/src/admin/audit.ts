// The audit trail for operators: the Redis stream every operation appends to
// (core.ts `audited`), read newest first with exact-match filters and paging.
import { normalizeFingerprint } from '@keywarden/common';
import type { adminV1 } from '@keywarden/proto';
import type { Core } from '../core';
import { adminError } from '../errors';
import { keys } from '../store/keys';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 500;
/** Entries read per Redis call while filtering. */
const CHUNK = 500;
/** Entries looked at per page, at most: a page answers with fewer matches rather than read the whole stream. */
const MAX_SCAN = 10_000;
const ENTRY_ID = /^\d{1,20}-\d{1,20}$/;
const MAX_FILTER = 256;

/** Fields with a place of their own in AuditEntry; the rest go to `detail`. */
const KNOWN = new Set(['tenant', 'cert', 'op', 'uid', 'result', 'reason', 'operator', 'time']);

type Filters = Pick<adminV1.ListAuditRequest, 'tenantId' | 'cert' | 'op' | 'result' | 'operator'>;

function entryOut(id: string, flat: string[]): adminV1.AuditEntry {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]] = flat[i + 1];
  const detail: Record<string, string> = {};
  for (const [k, v] of Object.entries(f)) if (!KNOWN.has(k)) detail[k] = v;
  return {
    id, time: f.time ?? '', tenantId: f.tenant ?? '', cert: f.cert ?? '', op: f.op ?? '', uniqueIdentifier: f.uid ?? '',
    result: f.result ?? '', reason: Number(f.reason ?? 0) || 0, operator: f.operator ?? '', detail,
  };
}

function matches(e: adminV1.AuditEntry, f: Filters): boolean {
  if (f.tenantId && e.tenantId !== f.tenantId) return false;
  if (f.cert && e.cert !== f.cert) return false;
  if (f.op && e.op !== f.op) return false;
  if (f.operator && e.operator !== f.operator) return false;
  if (f.result === 'failed') return e.result !== 'ok';
  if (f.result && e.result !== f.result) return false;
  return true;
}

function checkFilters(req: adminV1.ListAuditRequest): Filters {
  for (const [name, v] of Object.entries({ tenant_id: req.tenantId, cert: req.cert, op: req.op, result: req.result, operator: req.operator })) {
    if (v.length > MAX_FILTER) throw adminError.invalid(`${name} is longer than ${MAX_FILTER} characters`);
  }
  let cert = '';
  if (req.cert) {
    try {
      cert = normalizeFingerprint(req.cert);
    } catch (e) {
      throw adminError.invalid(`cert: ${(e as Error).message}`);
    }
  }
  return { tenantId: req.tenantId, cert, op: req.op, result: req.result, operator: req.operator };
}

export async function listAudit(core: Core, req: adminV1.ListAuditRequest): Promise<adminV1.ListAuditResponse> {
  const filters = checkFilters(req);
  const limit = Math.min(req.limit || DEFAULT_LIMIT, MAX_LIMIT);
  if (req.pageToken && !ENTRY_ID.test(req.pageToken)) throw adminError.invalid('page_token is not one this server issued');
  const entries: adminV1.AuditEntry[] = [];
  // Exclusive start ("(id") continues below the last entry of the previous page.
  let end = req.pageToken ? `(${req.pageToken}` : '+';
  let scanned = 0;
  for (;;) {
    const chunk = (await core.store.redis.xrevrange(keys.audit, end, '-', 'COUNT', CHUNK)) as Array<[string, string[]]>;
    for (let i = 0; i < chunk.length; i++) {
      const [id, flat] = chunk[i];
      scanned++;
      const e = entryOut(id, flat);
      if (matches(e, filters)) entries.push(e);
      if (entries.length === limit || scanned >= MAX_SCAN) {
        const more = i < chunk.length - 1 || chunk.length === CHUNK;
        return { entries, nextPageToken: more ? id : '' };
      }
    }
    if (chunk.length < CHUNK) return { entries, nextPageToken: '' };
    end = `(${chunk[chunk.length - 1][0]}`;
  }
}
