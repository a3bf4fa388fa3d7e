import { X509Certificate } from 'crypto';
import fs from 'fs';
import { Command } from 'commander';
import { hashPassword, normalizeFingerprint } from '@keywarden/common';
import { adminV1 } from '@keywarden/proto';
import { CliError, Ctx } from '../context';
import { kv, table } from '../table';
import { certificateView, daysLeft as daysUntil } from '../views';
import { newPassword, PasswordOptions } from './operators';

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

function fingerprintArg(fp: string): string {
  try {
    return normalizeFingerprint(fp);
  } catch (e) {
    throw new CliError((e as Error).message, 2);
  }
}

/**
 * The scrypt hash of a certificate's new password (docs/vcenter-setup.md,
 * "A password for the key provider"). The password is hashed here and only
 * the hash is sent, as for operator accounts: it never appears on a command
 * line and never crosses the network.
 */
async function passwordHashOf(o: PasswordOptions): Promise<string> {
  return hashPassword(await newPassword(o));
}

const passwordOptions = (c: Command) => c
  .option('--password-env <NAME>', 'read the password from this environment variable')
  .option('--password-stdin', 'read the password from standard input');

const KMS_PASSWORD_HINT = 'give vCenter the same password: the KMS entry\'s User name (any) and Password (docs/vcenter-setup.md)';

export function register(program: Command, ctx: () => Ctx): void {
  const cert = program.command('cert').description('client certificates (vCenter, ESXi, platforms) and their tenant');

  passwordOptions(cert.command('add <tenant> <pem-file>')
    .description('register a client certificate (PEM or DER) for a tenant; its SHA-256 fingerprint becomes its identity. ' +
      'With --password-env or --password-stdin, every KMIP request of it must also carry that password (a KMIP Credential)'))
    .action(async (tenantId: string, file: string, o: PasswordOptions) => {
      const pem = readCertificate(file);
      const passwordHash = o.passwordEnv || o.passwordStdin ? await passwordHashOf(o) : undefined;
      const c = ctx();
      const r = await c.call<adminV1.Certificate>('addCertificate', { tenantId, pem, ...(passwordHash ? { passwordHash } : {}) });
      if (!c.opts.json) for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
      c.out(kv([
        ['fingerprint', r.fingerprint], ['tenant', r.tenantId], ['subject', r.subject], ['issuer', r.issuer],
        ['expires', `${r.notAfter} (${daysLeft(r.notAfter)})`], ['clientAuth', String(r.clientAuth)],
        ['password', r.passwordSet ? `set (${KMS_PASSWORD_HINT})` : 'none'],
      ]), certificateView(r));
    });

  cert.command('list')
    .description('list registered certificates with their expiry')
    .option('--tenant <id>', 'only this tenant')
    .action(async (o) => {
      const c = ctx();
      const r = await c.call<adminV1.ListCertificatesResponse>('listCertificates', { tenantId: o.tenant ?? '' });
      const rows = r.certificates.map((x) => [x.fingerprint, x.tenantId, x.subject, x.notAfter, daysLeft(x.notAfter), x.passwordSet ? 'yes' : 'no']);
      c.out(table(['FINGERPRINT', 'TENANT', 'SUBJECT', 'EXPIRES', 'LEFT', 'PASSWORD'], rows), r.certificates.map(certificateView));
    });

  cert.command('remove <fingerprint>')
    .description('remove a certificate: its access ends at once, open KMIP connections included')
    .action(async (fp: string) => {
      const fingerprint = fingerprintArg(fp);
      const c = ctx();
      await c.call('removeCertificate', { fingerprint });
      c.out(`removed ${fingerprint}`, { removed: fingerprint });
    });

  passwordOptions(cert.command('set-password <fingerprint>')
    .description('set the password every KMIP request of this certificate must carry (asks it twice unless given another way); ' +
      'its open KMIP connections end at once'))
    .action(async (fp: string, o: PasswordOptions) => {
      const fingerprint = fingerprintArg(fp);
      const passwordHash = await passwordHashOf(o);
      const c = ctx();
      const r = await c.call<adminV1.Certificate>('setCertificatePassword', { fingerprint, passwordHash, clear: false });
      c.out(`password set for ${r.fingerprint}; ${KMS_PASSWORD_HINT}`, certificateView(r));
    });

  cert.command('clear-password <fingerprint>')
    .description('remove the certificate\'s password: a KMIP Credential is then accepted and ignored; its open KMIP connections end at once')
    .action(async (fp: string) => {
      const fingerprint = fingerprintArg(fp);
      const c = ctx();
      const r = await c.call<adminV1.Certificate>('setCertificatePassword', { fingerprint, passwordHash: '', clear: true });
      c.out(`password cleared for ${r.fingerprint}`, certificateView(r));
    });
}
