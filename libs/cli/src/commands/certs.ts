import { X509Certificate } from 'crypto';
import fs from 'fs';
import { Command } from 'commander';
import { normalizeFingerprint } from '@keywarden/common';
import { adminV1 } from '@keywarden/proto';
import { CliError, Ctx } from '../context';
import { kv, table } from '../table';
import { certificateView, daysLeft as daysUntil } from '../views';

function daysLeft(notAfter: string): string {
  const d = daysUntil(notAfter);
  return d === null ? '' : d < 0 ? `EXPIRED ${-d}d ago` : `${d}d`;
}

const MAX_FILE = 64 * 1024;

/**
 * A certificate file as PEM: PEM as it is (the server says what is wrong with
 * it), DER (binary, as Windows and some appliances export) converted.
 */
export function readCertificate(file: string): string {
  let raw: Buffer;
  try {
    raw = fs.readFileSync(file);
  } catch (e) {
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`, 2);
  }
  if (raw.length > MAX_FILE) throw new CliError(`${file} is larger than 64 KiB: not a certificate`, 2);
  if (raw.includes('-----BEGIN')) return raw.toString('utf8');
  try {
    return new X509Certificate(raw).toString();
  } catch {
    throw new CliError(`${file} is neither a PEM ("-----BEGIN CERTIFICATE-----") nor a DER X.509 certificate`, 2);
  }
}

export function register(program: Command, ctx: () => Ctx): void {
  const cert = program.command('cert').description('client certificates (vCenter, ESXi, platforms) and their tenant');

  cert.command('add <tenant> <pem-file>')
    .description('register a client certificate (PEM or DER) for a tenant; its SHA-256 fingerprint becomes its identity')
    .action(async (tenantId: string, file: string) => {
      const pem = readCertificate(file);
      const c = ctx();
      const r = await c.call<adminV1.Certificate>('addCertificate', { tenantId, pem });
      if (!c.opts.json) for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
      c.out(kv([['fingerprint', r.fingerprint], ['tenant', r.tenantId], ['subject', r.subject], ['issuer', r.issuer], ['expires', `${r.notAfter} (${daysLeft(r.notAfter)})`], ['clientAuth', String(r.clientAuth)]]), certificateView(r));
    });

  cert.command('list')
    .description('list registered certificates with their expiry')
    .option('--tenant <id>', 'only this tenant')
    .action(async (o) => {
      const c = ctx();
      const r = await c.call<adminV1.ListCertificatesResponse>('listCertificates', { tenantId: o.tenant ?? '' });
      c.out(table(['FINGERPRINT', 'TENANT', 'SUBJECT', 'EXPIRES', 'LEFT'], r.certificates.map((x) => [x.fingerprint, x.tenantId, x.subject, x.notAfter, daysLeft(x.notAfter)])), r.certificates.map(certificateView));
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
