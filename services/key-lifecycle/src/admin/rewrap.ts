import { randomUUID } from 'crypto';
import { setTimeout as sleep } from 'timers/promises';
import type { grpc } from '@keywarden/common';
import type { adminV1 } from '@keywarden/proto';
import type { Core } from '../core';
import { adminError } from '../errors';
import { isDestroyed } from '../model/state';
import type { TenantRecord } from '../store/store';
import { rootKeyStatus } from './root-keys';
import { requireTenant } from './tenants';

// Rewrap after CRK rotation: moves every record of a tenant to the newest
// root key version (crk-wrapping Rewrap: no plaintext leaves the provider).
// Progress lives in Redis, so any replica can report it; a job whose worker
// stops sending heartbeats is taken over by the next StartRewrap.

const STALE_AFTER_MS = 60_000;
const BATCH = 100;
const CONCURRENCY = 4;
const POLL_MS = 200;

export function jobOut(id: string, h: Record<string, string>): adminV1.RewrapJob {
  const n = (k: string) => BigInt(h[k] ?? '0');
  return {
    jobId: id, tenantId: h.tenant ?? '', status: h.status ?? '', total: n('total'), done: n('done'),
    rewrapped: n('rewrapped'), failed: n('failed'), targetVersion: h.targetVersion ?? '', error: h.error ?? '',
  };
}

const stale = (h: Record<string, string>) => h.status === 'running' && Number(h.heartbeat ?? 0) + STALE_AFTER_MS < Date.now();

export class RewrapJobs {
  private readonly running = new Set<Promise<void>>();
  private stopping = false;

  constructor(private readonly core: Core) {}

  async start(req: adminV1.StartRewrapRequest): Promise<adminV1.RewrapJob> {
    const t = await requireTenant(this.core, req.tenantId);
    if (t.shreddedAt) throw adminError.precondition(`the root key was crypto-shredded at ${t.shreddedAt}; nothing can be rewrapped`);
    const status = await rootKeyStatus(this.core, t);
    if (status.state !== 'ACTIVE') throw adminError.precondition(`root key "${t.crkId}" is ${status.state}; rewrap needs an ACTIVE root key`);
    const id = randomUUID();
    const total = await this.core.store.objectCount(t.id);
    const claim = await this.core.store.claimRewrap(t.id, id, STALE_AFTER_MS, {
      tenant: t.id, status: 'running', total, done: 0, rewrapped: 0, failed: 0,
      targetVersion: status.currentVersion, error: '', startedAt: new Date().toISOString(), heartbeat: Date.now(),
    });
    if (claim.startsWith('BUSY:')) {
      // One job per tenant: answer with the one already running.
      const cur = claim.slice(5);
      return jobOut(cur, (await this.core.store.getJob(cur)) ?? {});
    }
    const p = this.run(t, id, status.currentVersion, total).catch((err: unknown) => this.core.log.error({ err, job: id }, 'rewrap job crashed'));
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
    return jobOut(id, (await this.core.store.getJob(id)) ?? {});
  }

  async watch(req: adminV1.WatchRewrapRequest, call: grpc.ServerWritableStream<adminV1.WatchRewrapRequest, adminV1.RewrapJob>): Promise<void> {
    let cancelled = false;
    call.on('cancelled', () => { cancelled = true; });
    let last = '';
    for (;;) {
      const h = req.jobId ? await this.core.store.getJob(req.jobId) : undefined;
      if (!h) throw adminError.notFound(`no rewrap job "${req.jobId}"`);
      if (stale(h)) {
        h.status = 'failed';
        h.error = 'the worker running this job stopped (replica restarted?); start a new rewrap to resume';
      }
      const out = jobOut(req.jobId, h);
      const key = JSON.stringify(out, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
      if (key !== last && !cancelled) { call.write(out); last = key; }
      if (out.status !== 'running' || cancelled || this.stopping) return;
      await sleep(POLL_MS);
    }
  }

  async close(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.running]);
  }

  private async run(t: TenantRecord, id: string, target: string, total: number): Promise<void> {
    const { core } = this;
    const heartbeat = setInterval(() => { void core.store.updateJob(id, {}).catch(() => undefined); }, 5_000);
    heartbeat.unref();
    let failed = 0;
    let lastError = '';
    try {
      for (let offset = 0; ; offset += BATCH) {
        if (this.stopping) throw new Error('key-lifecycle is shutting down');
        const tenant = await core.store.getTenant(t.id);
        if (!tenant || tenant.status !== 'active' || tenant.shreddedAt) throw new Error('the tenant was deleted or shredded');
        const ids = await core.store.listObjectIds(t.id, offset, offset + BATCH - 1);
        if (ids.length === 0) break;
        const objs = await core.store.getObjects(t.id, ids);
        let next = 0;
        await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
          while (next < objs.length) {
            const r = objs[next++]?.rec;
            let rewrapped = 0;
            let fail = 0;
            if (r && r.sealedRef && !isDestroyed(r.state) && r.crkVersion !== target) {
              try {
                const res = await core.wrapping.rewrap(tenant, { tenantId: t.id, uid: r.uid }, Buffer.from(r.sealedRef, 'base64'));
                if (res.changed || res.crkVersion !== r.crkVersion) {
                  if (await core.adoptRewrapped(tenant, r.uid, r.sealedRef, res.sealedRef, res.crkVersion)) rewrapped = 1;
                }
              } catch (e) {
                fail = 1;
                lastError = `${r.uid}: ${(e as { details?: string }).details ?? (e as Error).message}`;
                core.log.warn({ err: e, job: id, uid: r.uid }, 'rewrap of one key failed');
              }
            }
            failed += fail;
            await core.store.updateJob(id, lastError ? { error: lastError } : {}, { done: 1, rewrapped, failed: fail });
          }
        }));
      }
      const h = (await core.store.getJob(id)) ?? {};
      await core.store.updateJob(id, {
        status: failed > 0 ? 'failed' : 'done',
        total: Math.max(total, Number(h.done ?? 0)),
        error: failed > 0 ? `${failed} keys could not be rewrapped; last: ${lastError}` : '',
      });
    } catch (e) {
      await core.store.updateJob(id, { status: 'failed', error: (e as Error).message }).catch(() => undefined);
    } finally {
      clearInterval(heartbeat);
    }
  }
}
