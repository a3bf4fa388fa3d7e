import { Command } from 'commander';
import cliProgress from 'cli-progress';
import { grpc } from '@keywarden/common';
import { adminV1 } from '@keywarden/proto';
import { callError, CliError, Ctx } from '../context';
import { integerIn } from '../options';
import { kv } from '../table';
import { jobView, rootKeyView } from '../views';

function statusText(s: adminV1.RootKeyStatus): string {
  return kv([['tenant', s.tenantId], ['root key', s.crkId], ['state', s.state], ['version', s.currentVersion], ['last rotated', s.lastRotated], ['keys on older versions', s.keysOnOlderVersions], ['detail', s.detail]]);
}

/** Streams a rewrap job's progress to a bar (or JSON lines) until it ends. */
async function watch(c: Ctx, job: adminV1.RewrapJob): Promise<adminV1.RewrapJob> {
  const bar = !c.opts.json && process.stderr.isTTY
    ? new cliProgress.SingleBar({ format: 'rewrap [{bar}] {value}/{total} keys | rewrapped {rewrapped} | failed {failed}', stream: process.stderr }, cliProgress.Presets.shades_classic)
    : undefined;
  bar?.start(Number(job.total), Number(job.done), { rewrapped: 0, failed: 0 });
  let last = job;
  await new Promise<void>((resolve, reject) => {
    const stream = c.admin.watchRewrap({ jobId: job.jobId });
    stream.on('data', (j: adminV1.RewrapJob) => {
      last = j;
      if (bar) {
        bar.setTotal(Number(j.total));
        bar.update(Number(j.done), { rewrapped: Number(j.rewrapped), failed: Number(j.failed) });
      } else if (!c.opts.json) {
        process.stderr.write(`rewrap ${j.done}/${j.total} (rewrapped ${j.rewrapped}, failed ${j.failed})\n`);
      }
    });
    stream.on('end', () => resolve());
    stream.on('error', (e: Error & { code?: number }) => (e.code === grpc.status.CANCELLED ? resolve() : reject(callError(e, c.endpoint))));
  });
  bar?.stop();
  return last;
}

/** After a shred, ask the key service whether a few of the tenant's keys could still be served (as a KMIP Get would). */
async function proveUnusable(c: Ctx, tenantId: string, sample: number): Promise<Array<{ uid: string; result: string }>> {
  if (sample === 0) return [];
  const keys = await c.call<adminV1.ListKeysResponse>('listKeys', { tenantId, limit: sample, pageToken: '' });
  const out: Array<{ uid: string; result: string }> = [];
  for (const k of keys.keys) {
    const p = await c.call<adminV1.ProbeKeyResponse>('probeKey', { tenantId, uniqueIdentifier: k.uniqueIdentifier });
    out.push({ uid: k.uniqueIdentifier, result: p.usable ? 'STILL USABLE' : `unusable: ${p.detail}` });
  }
  return out;
}

export function register(program: Command, ctx: () => Ctx): void {
  const rk = program.command('rootkey').description("a tenant's customer root key (CRK): status, rotation, crypto-shredding");

  rk.command('status <tenant>').description('root key state in the provider and keys not yet on its newest version').action(async (tenantId: string) => {
    const c = ctx();
    const s = await c.call<adminV1.RootKeyStatus>('getRootKeyStatus', { tenantId });
    c.out(statusText(s), rootKeyView(s));
  });

  rk.command('rotate <tenant>')
    .description('rotate the root key, then rewrap every key onto the new version (with progress)')
    .option('--no-rewrap', 'rotate only; rewrap later with `rootkey rewrap`')
    .action(async (tenantId: string, o) => {
      const c = ctx();
      const s = await c.call<adminV1.RootKeyStatus>('rotateRootKey', { tenantId });
      if (!c.opts.json) process.stderr.write(`rotated: root key ${s.crkId} now at version ${s.currentVersion}\n`);
      if (o.rewrap === false) return c.out(statusText(s), rootKeyView(s));
      const job = await watch(c, await c.call<adminV1.RewrapJob>('startRewrap', { tenantId }));
      const after = await c.call<adminV1.RootKeyStatus>('getRootKeyStatus', { tenantId });
      c.out(`${job.status}: ${job.rewrapped} rewrapped, ${job.failed} failed of ${job.total}${job.error ? ` (${job.error})` : ''}\n${statusText(after)}`, { job: jobView(job), status: rootKeyView(after) });
      if (job.status !== 'done' || Number(job.failed) > 0) throw new CliError('the rewrap did not complete; run `keywarden rootkey rewrap` again', 4);
    });

  rk.command('rewrap <tenant>').description('rewrap every key onto the newest root key version (with progress)').action(async (tenantId: string) => {
    const c = ctx();
    const job = await watch(c, await c.call<adminV1.RewrapJob>('startRewrap', { tenantId }));
    c.out(`${job.status}: ${job.rewrapped} rewrapped, ${job.failed} failed of ${job.total}`, jobView(job));
    if (job.status !== 'done' || Number(job.failed) > 0) throw new CliError('the rewrap did not complete', 4);
  });

  rk.command('shred <tenant>')
    .description('crypto-shred: delete the root key in the provider; every key of the tenant becomes unusable')
    .requiredOption('--confirm <tenant>', 'repeat the tenant id')
    .option('--sample <n>', 'keys to try afterwards as proof (0 to 100)', integerIn(0, 100), 3)
    .action(async (tenantId: string, o) => {
      if (o.confirm !== tenantId) throw new CliError('--confirm must repeat the tenant id exactly', 2);
      const c = ctx();
      const s = await c.call<adminV1.RootKeyStatus>('shredRootKey', { tenantId, confirmTenantId: o.confirm });
      const proof = await proveUnusable(c, tenantId, o.sample as number);
      const lines = proof.map((p) => `  ${p.uid}: ${p.result}`);
      c.out(`${statusText(s)}\nproof (each key as a KMIP Get would be served now):\n${lines.length ? lines.join('\n') : '  (no keys to try)'}`, { status: rootKeyView(s), proof });
      if (proof.some((p) => p.result === 'STILL USABLE')) throw new CliError('some keys are still usable after the shred', 1);
    });
}
