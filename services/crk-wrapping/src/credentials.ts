import { createCipheriv, createDecipheriv, randomBytes } from 'crypto';
import fs, { promises as fsp } from 'fs';
import path from 'path';
import type { Logger } from '@keywarden/common';
import { badRequest } from './errors';

// Provider credentials (IAM API keys, HSM PINs) are never stored in clear:
//   sealed:<base64>          AES-256-GCM under the deployment's master key (SealCredential)
//   file:<absolute path>     a mounted secret inside the credentials directory (trailing newline ignored)
//   env:KEYWARDEN_CRED_<X>   an environment variable of this service, with that prefix
//
// A reference is a tenant setting, so it must not reach anything else this
// process can read: the master key, the PKI's keys, its other environment
// variables. file: resolves only inside one directory the operator
// configured (after following symbolic links), env: only variables with the
// prefix. A refused reference gets one answer whatever the cause (missing,
// unreadable, outside the directory, not a file), so it cannot be used to
// learn which files exist; the cause goes to crk-wrapping's log.

const SEALED_VERSION = 1;
const AAD = Buffer.from('keywarden credential v1');
const MAX_CREDENTIAL = 4096;
/** Longest file: or env: reference (a path, a variable name). */
const MAX_REF = 1024;
/** Mounted secrets are re-read this often, so a rotated secret is picked up. */
const FILE_TTL_MS = 10_000;
/** Opened sealed references kept (one per tenant credential); the map starts over when full. */
const MAX_OPENED = 1024;
/** Mounted secrets kept; the map starts over when full. */
const MAX_FILES = 1024;

/** env: references name variables with this prefix only, so no other variable of the service is reachable. */
export const ENV_PREFIX = 'KEYWARDEN_CRED_';
const ENV_NAME = new RegExp(`^${ENV_PREFIX}[A-Z0-9_]+$`);

const FILE_REFUSED = 'credential_ref file: is refused: it must be the absolute path of a readable, non-empty regular file'
  + ' inside the credentials directory of crk-wrapping (WRAPPING_CREDENTIALS_DIR), without ".." and without symbolic links leading out of it';
const ENV_REFUSED = `credential_ref env: is refused: it must name an environment variable ${ENV_PREFIX}<NAME> (capital letters, digits, "_") that is set in crk-wrapping`;
const NO_DIR = 'credential_ref file: is refused: crk-wrapping has no credentials directory (WRAPPING_CREDENTIALS_DIR); seal the credential instead';

export interface CredentialOptions {
  /** The only directory file: references may resolve into; without one, file: references are refused. */
  dir?: string;
  /** Where the cause of a refused reference is logged (never the secret). */
  log?: Logger;
}

export class Credentials {
  private readonly files = new Map<string, { value: string; at: number }>();
  /**
   * Sealed references already opened: every call carries its tenant's
   * reference, and opening it is an AES-GCM decryption per call otherwise.
   * A reference opens to the same secret every time (it only changes with
   * a new reference), so nothing can go stale here.
   */
  private readonly opened = new Map<string, string>();
  /** The directory as configured (lexical checks) and as the file system resolves it (after links). */
  private readonly dir?: { given: string; real: string };
  private readonly log?: Logger;

  constructor(private readonly masterKey: Buffer, opts: CredentialOptions = {}) {
    if (masterKey.length !== 32) throw new Error('the master key must be 32 bytes (AES-256)');
    this.log = opts.log;
    if (opts.dir !== undefined) {
      if (!path.isAbsolute(opts.dir)) throw new Error(`the credentials directory ${opts.dir} must be an absolute path`);
      let real: string;
      try {
        real = fs.realpathSync(opts.dir);
      } catch (e) {
        throw new Error(`the credentials directory ${opts.dir} cannot be opened (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
      if (!fs.statSync(real).isDirectory()) throw new Error(`the credentials directory ${opts.dir} is not a directory`);
      this.dir = { given: path.resolve(opts.dir), real };
    }
  }

  /** "sealed:" + base64(version | iv | tag | ciphertext). */
  seal(credential: Buffer): string {
    if (credential.length === 0) throw badRequest('the credential is empty');
    if (credential.length > MAX_CREDENTIAL) throw badRequest(`the credential is longer than ${MAX_CREDENTIAL} bytes`);
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.masterKey, iv);
    c.setAAD(AAD);
    const ct = Buffer.concat([c.update(credential), c.final()]);
    return `sealed:${Buffer.concat([Buffer.from([SEALED_VERSION]), iv, c.getAuthTag(), ct]).toString('base64')}`;
  }

  /** Resolves a credential_ref to the secret; errors name the reference kind, never the secret or a path. */
  async resolve(ref: string): Promise<string> {
    if (ref.startsWith('sealed:')) {
      let secret = this.opened.get(ref);
      if (secret === undefined) {
        secret = this.unseal(ref.slice(7));
        if (this.opened.size >= MAX_OPENED) this.opened.clear();
        this.opened.set(ref, secret);
      }
      return secret;
    }
    if (ref.startsWith('file:')) return this.readFile(ref.slice(5));
    if (ref.startsWith('env:')) return this.readEnv(ref.slice(4));
    throw badRequest('credential_ref must start with "sealed:", "file:" or "env:"');
  }

  private unseal(b64: string): string {
    const raw = Buffer.from(b64, 'base64');
    if (raw.length < 1 + 12 + 16 + 1 || raw[0] !== SEALED_VERSION) throw badRequest('credential_ref sealed: is malformed or of an unknown version');
    try {
      const d = createDecipheriv('aes-256-gcm', this.masterKey, raw.subarray(1, 13));
      d.setAAD(AAD);
      d.setAuthTag(raw.subarray(13, 29));
      return Buffer.concat([d.update(raw.subarray(29)), d.final()]).toString('utf8');
    } catch {
      throw badRequest('credential_ref sealed: does not open with this deployment\'s master key (sealed elsewhere, or corrupted)');
    }
  }

  private readEnv(name: string): string {
    if (name.length > MAX_REF || !ENV_NAME.test(name)) throw this.refused('env', name, `not a ${ENV_PREFIX} variable`);
    const v = process.env[name];
    if (v === undefined || v === '') throw this.refused('env', name, v === undefined ? 'not set' : 'empty');
    return v;
  }

  private async readFile(p: string): Promise<string> {
    if (!this.dir) throw badRequest(NO_DIR);
    const cached = this.files.get(p);
    if (cached && Date.now() - cached.at < FILE_TTL_MS) return cached.value;
    const lexical = this.insideLexically(p);
    if (typeof lexical !== 'string') throw this.refused('file', p, lexical.cause);
    let value: string;
    try {
      value = await this.readInside(lexical);
    } catch (e) {
      throw this.refused('file', p, (e as NodeJS.ErrnoException).code ?? (e as Error).message);
    }
    if (this.files.size >= MAX_FILES) this.files.clear();
    this.files.set(p, { value, at: Date.now() });
    return value;
  }

  /**
   * The path, normalized, when it is written as an absolute path inside the
   * configured directory; nothing outside the directory is ever touched, so
   * the file system cannot answer for it.
   */
  private insideLexically(p: string): string | { cause: string } {
    if (p.length > MAX_REF) return { cause: 'too long' };
    // eslint-disable-next-line no-control-regex -- control characters are what it looks for
    if (/[\u0000-\u001f\u007f]/.test(p)) return { cause: 'control character' };
    if (p.includes('://') || p.startsWith('//')) return { cause: 'a URL' };
    if (!path.isAbsolute(p)) return { cause: 'not an absolute path' };
    if (p.split('/').includes('..')) return { cause: '".." in the path' };
    const resolved = path.resolve(p);
    return within(resolved, this.dir!.given) ? resolved : { cause: 'outside the credentials directory' };
  }

  /** Reads a secret whose real path (links followed) is inside the directory too; bounded, regular files only. */
  private async readInside(p: string): Promise<string> {
    const real = await fsp.realpath(p);
    if (!within(real, this.dir!.real)) throw new Error('a symbolic link leads out of the credentials directory');
    // O_NOFOLLOW: the last component cannot have become a link since; O_NONBLOCK: a FIFO does not hang the open.
    const fh = await fsp.open(real, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new Error('not a regular file');
      if (st.size > MAX_CREDENTIAL + 2) throw new Error(`larger than ${MAX_CREDENTIAL} bytes`);
      const buf = Buffer.alloc(MAX_CREDENTIAL + 2);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      const value = buf.subarray(0, bytesRead).toString('utf8').replace(/\r?\n$/, '');
      buf.fill(0);
      if (!value) throw new Error('empty');
      return value;
    } finally {
      await fh.close();
    }
  }

  /** The one answer for a refused file: or env: reference; the cause is logged for the operator. */
  private refused(kind: 'file' | 'env', ref: string, cause: string) {
    this.log?.warn({ credentialRef: `${kind}:${ref.slice(0, 200)}`, cause }, 'credential_ref refused');
    return badRequest(kind === 'file' ? FILE_REFUSED : ENV_REFUSED);
  }
}

/** Whether p is dir or below it (both absolute and normalized). */
function within(p: string, dir: string): boolean {
  const rel = path.relative(dir, p);
  // "..data" (Kubernetes' secret volumes) is a name inside; ".." and "../x" are not.
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}
