// The vCenter trust options (docs/vcenter-setup.md): sign vCenter's CSR, issue a
// certificate and key for upload to vCenter, export the CA vCenter must trust.
import fs from 'fs';
import path from 'path';
import { Command } from 'commander';
import {
  INTERNAL_ROLE_NAMES, Issued, RequestedNames, SPIFFE_PREFIX, certFingerprint, internalRoleNamed, issueCertificate, requestedNames, signCsr,
} from '@keywarden/common';
import { adminV1 } from '@keywarden/proto';
import { CliError, Ctx, GlobalOptions } from '../context';
import { integerIn } from '../options';
import { kv } from '../table';

function loadCa(o: GlobalOptions & { caCert?: string; caKey?: string }): Issued {
  // The KMIP CA (never --pki-dir, which holds the internal CA of the operator's identity).
  const certPath = o.caCert ?? path.join(o.dataDir, 'pki', 'ca.crt');
  const keyPath = o.caKey ?? path.join(o.dataDir, 'pki', 'ca.key');
  try {
    return { cert: fs.readFileSync(certPath, 'utf8'), key: fs.readFileSync(keyPath, 'utf8') };
  } catch (e) {
    throw new CliError(`cannot read the deployment CA (${(e as Error).message}); give --ca-cert and --ca-key`, 2);
  }
}

/** Length limit of an X.509 common name (RFC 5280 ub-common-name). */
const MAX_NAME = 64;

/**
 * Why `name` cannot be the common name and file name of an issued client
 * certificate, or undefined when it can. It becomes <out-dir>/<name>.crt and
 * .key, so nothing in it may leave the directory or read as an option; and it
 * must not name one of keywarden's internal roles.
 */
export function badClientName(name: string): string | undefined {
  if (name.trim() === '') return 'the name is empty';
  if (name.includes('\0')) return 'the name contains a NUL character';
  // eslint-disable-next-line no-control-regex
  if (/[\u0001-\u001f\u007f]/.test(name)) return 'the name contains a control character';
  if (name.includes('/') || name.includes('\\')) return 'the name contains a path separator ("/" or "\\")';
  if (name.includes('..')) return 'the name contains ".."';
  if (name.startsWith('-')) return 'the name starts with "-"';
  if (name.startsWith('.')) return 'the name starts with "." (a hidden file)';
  if (name.includes('*')) return 'the name contains "*" (a wildcard)';
  if (name.length > MAX_NAME) return `the name is longer than ${MAX_NAME} characters`;
  const role = internalRoleNamed([name], []);
  if (role !== undefined) return `"${role}" is the name of a keywarden internal role (${INTERNAL_ROLE_NAMES.join(', ')}; ${SPIFFE_PREFIX}…)`;
  return undefined;
}

/**
 * Why the deployment CA must not sign this CSR for a KMIP client, or
 * undefined. vCenter's CSR has one common name; one with none, several, an
 * empty or a wildcard one is refused rather than guessed at, and no CN or
 * requested SAN may name an internal role (the SANs are not copied into the
 * certificate, but a request for a role name is refused all the same).
 */
export function badCsrNames(names: RequestedNames): string | undefined {
  const { commonNames: cns, sans } = names;
  const role = internalRoleNamed(cns, sans);
  if (role !== undefined) {
    const where = cns.includes(role) ? 'subject common name' : 'subject alternative name';
    return `its ${where} "${role}" names a keywarden internal role (${INTERNAL_ROLE_NAMES.join(', ')}; ${SPIFFE_PREFIX}…); a vCenter client certificate may not`;
  }
  if (cns.length === 0) return 'its subject has no common name (CN); vCenter\'s CSR names the vCenter';
  if (cns.length > 1) return `its subject has ${cns.length} common names (${cns.map((c) => JSON.stringify(c)).join(', ')}); a client certificate has one`;
  const cn = cns[0];
  if (cn.trim() === '') return 'its subject common name is empty';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(cn)) return 'its subject common name contains a control character';
  if (cn.includes('*')) return `its subject common name "${cn}" is a wildcard`;
  return undefined;
}

/** O_NOFOLLOW where the platform has it (not on Windows). */
const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;

/**
 * Refuses `file` if anything is there already: a file, a directory or a
 * symbolic link (dangling or not). Checked before anything is written or
 * registered, so a refused command leaves nothing behind; writeNew checks
 * again atomically.
 */
function assertAbsent(file: string, flag: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new CliError(`cannot use ${file}: ${(e as Error).message}`, 2);
  }
  const what = st.isSymbolicLink() ? 'a symbolic link' : st.isDirectory() ? 'a directory' : 'a file';
  throw new CliError(`${file} exists (${what}); refusing to overwrite it or write through it: remove it or choose another ${flag}`, 2);
}

/**
 * Creates `file` and writes `data`: exclusive creation (O_CREAT|O_EXCL, so an
 * existing file is never overwritten and a symbolic link in its place is
 * never followed; O_NOFOLLOW says so again), then the mode set on the open
 * descriptor, so a key is 0600 whatever the umask. A failed write removes the
 * half-written file.
 */
function writeNew(file: string, data: string, mode: number, flag: string): void {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | O_NOFOLLOW, mode);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ELOOP') assertAbsent(file, flag);
    throw new CliError(`cannot create ${file}: ${(e as Error).message}`, 2);
  }
  try {
    fs.fchmodSync(fd, mode);
    fs.writeFileSync(fd, data);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
    throw new CliError(`cannot write ${file}: ${(e as Error).message}`, 1);
  }
  fs.closeSync(fd);
}

/**
 * Creates `dir` and its missing parents. Returns an undo that removes again
 * the directories this call created, as long as they are still empty.
 */
function makeDir(dir: string, flag: string, mode?: number): () => void {
  let first: string | undefined;
  try {
    first = fs.mkdirSync(dir, { recursive: true, mode });
  } catch (e) {
    throw new CliError(`cannot create the directory for ${flag} (${(e as Error).message})`, 2);
  }
  return () => {
    if (first === undefined) return;
    const top = path.resolve(first);
    for (let d = path.resolve(dir); ; d = path.dirname(d)) {
      try {
        fs.rmdirSync(d);
      } catch {
        return;
      }
      if (d === top || d === path.dirname(d)) return;
    }
  };
}

/**
 * The directory for `issue-client`'s files: created (0700) when missing;
 * refused when it is a symbolic link or not a directory. The link is refused
 * rather than followed so that the key lands where the operator named, not
 * where someone who could plant a link in a shared path chose; the operator
 * gives the real path instead. Returns the undo of makeDir.
 */
function prepareOutDir(dir: string): () => void {
  let st: fs.Stats;
  try {
    // Resolved first: lstat of "link/" (trailing slash) would follow the link.
    st = fs.lstatSync(path.resolve(dir));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new CliError(`cannot use --out-dir ${dir}: ${(e as Error).message}`, 2);
    return makeDir(dir, '--out-dir', 0o700);
  }
  if (st.isSymbolicLink()) throw new CliError(`--out-dir ${dir} is a symbolic link; give the directory itself (${realpathOr(dir)})`, 2);
  if (!st.isDirectory()) throw new CliError(`--out-dir ${dir} is not a directory`, 2);
  return () => undefined;
}

function realpathOr(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return 'the link points nowhere';
  }
}

interface NewFile { file: string; data: string; mode: number; flag: string }

/**
 * Writes the new files of a command, then runs `after` (registration). When
 * anything fails, the files just created are removed again and `undoDirs`
 * runs, so a failed command leaves nothing on disk. Every target is checked
 * absent before anything is written.
 */
async function writeAllThen(files: NewFile[], after: () => Promise<void>, undoDirs: () => void): Promise<void> {
  const written: string[] = [];
  try {
    for (const f of files) assertAbsent(f.file, f.flag);
    for (const f of files) {
      writeNew(f.file, f.data, f.mode, f.flag);
      written.push(f.file);
    }
    await after();
  } catch (e) {
    for (const w of written) fs.rmSync(w, { force: true });
    undoDirs();
    throw e;
  }
}

export function register(program: Command, ctx: () => Ctx, globals: () => GlobalOptions): void {
  const vc = program.command('vcenter').description('vCenter trust set-up: CSR signing, issued certificates, the CA to trust');

  vc.command('sign-csr <csr-file>')
    .description('sign a CSR generated by vCenter with the deployment CA (clientAuth); optionally register it')
    .option('--out <file>', 'write the certificate here (default: stdout)')
    .option('--days <n>', 'validity in days (1 to 3650)', integerIn(1, 3650), 730)
    .option('--register <tenant>', 'also register the signed certificate for this tenant')
    .option('--ca-cert <file>').option('--ca-key <file>')
    .action(async (csrFile: string, o) => {
      const ca = loadCa({ ...globals(), ...o });
      let pem: string;
      try {
        const csr = fs.readFileSync(csrFile, 'utf8');
        const refusal = badCsrNames(requestedNames(csr));
        if (refusal) throw new Error(`refused: ${refusal}`);
        pem = signCsr(ca, csr, { usage: 'client', days: o.days as number });
      } catch (e) {
        throw new CliError(`cannot sign ${csrFile}: ${(e as Error).message}`, 2);
      }
      const fp = certFingerprint(pem);
      const registerIt = async () => {
        if (o.register) await ctx().call<adminV1.Certificate>('addCertificate', { tenantId: o.register, pem });
      };
      if (o.out) {
        const undoDir = makeDir(path.dirname(path.resolve(o.out)), '--out');
        await writeAllThen([{ file: o.out, data: pem, mode: 0o644, flag: '--out' }], registerIt, undoDir);
      } else {
        await registerIt();
        process.stdout.write(pem);
      }
      if (o.out || o.register) process.stderr.write(`signed: fingerprint ${fp}${o.register ? `, registered for tenant ${o.register}` : ''}\n`);
    });

  vc.command('issue-client <name>')
    .description('issue a client certificate and key for upload to vCenter ("KMS certificate and private key")')
    .requiredOption('--out-dir <dir>', 'writes <name>.crt and <name>.key (mode 0600)')
    .option('--days <n>', 'validity in days (1 to 3650)', integerIn(1, 3650), 730)
    .option('--register <tenant>', 'also register it for this tenant')
    .option('--ca-cert <file>').option('--ca-key <file>')
    .action(async (name: string, o) => {
      const bad = badClientName(name);
      if (bad) throw new CliError(`cannot issue a client certificate named ${JSON.stringify(name)}: ${bad}`, 2);
      const ca = loadCa({ ...globals(), ...o });
      const certFile = path.join(o.outDir, `${name}.crt`);
      const keyFile = path.join(o.outDir, `${name}.key`);
      const issued = issueCertificate(ca, { commonName: name, usage: 'client', days: o.days as number, organization: 'keywarden' });
      const fp = certFingerprint(issued.cert);
      const undoDir = prepareOutDir(o.outDir);
      await writeAllThen([
        { file: certFile, data: issued.cert, mode: 0o644, flag: 'name or --out-dir' },
        { file: keyFile, data: issued.key, mode: 0o600, flag: 'name or --out-dir' },
      ], async () => {
        if (o.register) await ctx().call('addCertificate', { tenantId: o.register, pem: issued.cert });
      }, undoDir);
      const res = { certificate: certFile, key: keyFile, fingerprint: fp, registeredFor: o.register ?? null };
      process.stdout.write(globals().json ? JSON.stringify(res, null, 2) + '\n' : kv([['certificate', res.certificate], ['key', res.key], ['fingerprint', fp], ['registered for', o.register]]) + '\n');
    });

  vc.command('export-ca')
    .description('the CA certificate vCenter must trust for "Make vCenter trust KMS"')
    .option('--out <file>', 'write here (default: stdout)')
    .option('--ca-cert <file>', 'the CA that signed the KMIP server certificate')
    .action((o) => {
      const g = globals();
      const file = o.caCert ?? path.join(g.dataDir, 'pki', 'ca.crt');
      let pem: string;
      try {
        pem = fs.readFileSync(file, 'utf8');
      } catch (e) {
        throw new CliError(`cannot read ${file}: ${(e as Error).message}`, 2);
      }
      if (o.out) {
        const undoDir = makeDir(path.dirname(path.resolve(o.out)), '--out');
        return writeAllThen([{ file: o.out, data: pem, mode: 0o644, flag: '--out' }], async () => undefined, undoDir);
      } else {
        process.stdout.write(pem);
      }
    });
}
