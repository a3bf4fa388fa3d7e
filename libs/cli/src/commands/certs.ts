import fs from 'fs';
import { Command } from 'commander';
import { normalizeFingerprint } from '@keywarden/common';
import { adminV1 } from '@keywarden/proto';
import { CliError, Ctx } from '../context';
import { kv, table } from '../table';

function daysLeft(notAfter: string): string {
  const d = Math.floor((Date.parse(notAfter) - Date.now()) / 86400_000);
  return Number.isNaN(d) ? '' : d < 0 ? `EXPIRED ${-d}d ago` : `${d}d`;
}

export function register(program: Command, ctx: () => Ctx): void {
  const cert = program.command('cert').description('client certificates (vCenter, ESXi, platforms) and their tenant');

  cert.command('add <tenant> <pem-file>')
    .description('register a client certificate (PEM) for a tenant; its SHA-256 fingerprint becomes its identity')
    .action(async (tenantId: string, file: string) => {
      let pem: string;
      try {
        pem = fs.readFileSync(file, 'utf8');
      } catch (e) {
        throw new CliError(`cannot read ${file}: ${(e as Error).message}`, 2);
      }
      const c = ctx();
      const r = await c.call<adminV1.Certificate>('addCertificate', { tenantId, pem });
      c.out(kv([['fingerprint', r.fingerprint], ['tenant', r.tenantId], ['subject', r.subject], ['issuer', r.issuer], ['expires', `${r.notAfter} (${daysLeft(r.notAfter)})`], ['clientAuth', String(r.clientAuth)]]), r);
    });

  cert.command('list')
    .description('list registered certificates with their expiry')
    .option('--tenant <id>', 'only this tenant')
    .action(async (o) => {
      const c = ctx();
      const r = await c.call<adminV1.ListCertificatesResponse>('listCertificates', { tenantId: o.tenant ?? '' });
      c.out(table(['FINGERPRINT', 'TENANT', 'SUBJECT', 'EXPIRES', 'LEFT'], r.certificates.map((x) => [x.fingerprint, x.tenantId, x.subject, x.notAfter, daysLeft(x.notAfter)])), r.certificates);
    });

  cert.command('remove <fingerprint>')
    .description('remove a certificate: its access ends at once, open KMIP connections included')
    .action(async (fp: string) => {
      let fingerprint: string;
      try {
        fingerprint = normalizeFingerprint(fp);
      } catch (e) {
        throw new CliError((e as Error).message, 2);
      }
      const c = ctx();
      await c.call('removeCertificate', { fingerprint });
      c.out(`removed ${fingerprint}`, { removed: fingerprint });
    });
}
