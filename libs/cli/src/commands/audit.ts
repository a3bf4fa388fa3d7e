import { Command } from 'commander';
import { adminV1 } from '@keywarden/proto';
import { Ctx } from '../context';
import { integerIn } from '../options';
import { table } from '../table';
import { auditView } from '../views';

export function register(program: Command, ctx: () => Ctx): void {
  const audit = program.command('audit').description('the audit trail: every KMIP and Admin operation, who asked and how it ended');

  audit.command('list')
    .description('audit entries, newest first; each filter is an exact match')
    .option('--tenant <id>', 'only this tenant')
    .option('--fingerprint <sha256>', 'only operations of this certificate (a KMIP client, an operator): its SHA-256 fingerprint')
    .option('--op <name>', 'only this operation, e.g. Get, Create, Admin.RevokeKey')
    .option('--result <result>', 'ok, failed (anything but ok), or a status such as PERMISSION_DENIED')
    .option('--operator <name>', 'only what this operator did')
    .option('--limit <n>', 'entries per page (1 to 500)', integerIn(1, 500), 50)
    .option('--all', 'follow every page (up to the stream\'s oldest entry)')
    .action(async (o) => {
      const c = ctx();
      const entries: adminV1.AuditEntry[] = [];
      let pageToken = '';
      do {
        const r = await c.call<adminV1.ListAuditResponse>('listAudit', {
          tenantId: o.tenant ?? '', cert: o.fingerprint ?? '', op: o.op ?? '', result: o.result ?? '', operator: o.operator ?? '', limit: o.limit as number, pageToken,
        });
        entries.push(...r.entries);
        pageToken = r.nextPageToken;
      } while (o.all && pageToken);
      const views = entries.map(auditView);
      c.out(table(['TIME', 'OP', 'TENANT', 'UID', 'RESULT', 'OPERATOR', 'CERT'],
        views.map((e) => [e.time, e.op, e.tenantId, e.uniqueIdentifier, e.reason ? `${e.result} (${e.reason})` : e.result, e.operator, e.cert.slice(0, 16)])) +
        (pageToken && !o.all ? '\n(more: use --all)' : ''), views);
    });
}
