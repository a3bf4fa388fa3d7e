import { createCipheriv, createDecipheriv, randomBytes } from 'crypto';
import { promises as fsp } from 'fs';
import path from 'path';
import { badRequest, WrappingError } from './errors';

// Provider credentials (IAM API keys, HSM PINs) are never stored in clear:
//   sealed:<base64>  AES-256-GCM under the deployment's master key (SealCredential)
//   file:<path>      a mounted secret (absolute path; trailing newline ignored)
//   env:<NAME>       an environment variable of this service

const SEALED_VERSION = 1;
const AAD = Buffer.from('keywarden credential v1');
const MAX_CREDENTIAL = 4096;
/** Mounted secrets are re-read this often, so a rotated secret is picked up. */
const FILE_TTL_MS = 10_000;
/** Opened sealed references kept (one per tenant credential); the map starts over when full. */
const MAX_OPENED = 1024;

export class Credentials {
  private readonly files = new Map<string, { value: string; at: number }>();
  /**
   * Sealed references already opened: every call carries its tenant's
   * reference, and opening it is an AES-GCM decryption per call otherwise.
   * A reference opens to the same secret every time (it only changes with
   * a new reference), so nothing can go stale here.
   */
  private readonly opened = new Map<string, string>();

  constructor(private readonly masterKey: Buffer) {
    if (masterKey.length !== 32) throw new Error('the master key must be 32 bytes (AES-256)');
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

  /** Resolves a credential_ref to the secret; errors name the reference kind, never the secret. */
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
    if (ref.startsWith('env:')) {
      const name = ref.slice(4);
      const v = process.env[name];
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw badRequest(`credential_ref env:${name} does not name a valid environment variable`);
      if (v === undefined || v === '') throw badRequest(`credential_ref env:${name}: the variable is not set in crk-wrapping`);
      return v;
    }
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

  private async readFile(p: string): Promise<string> {
    if (!path.isAbsolute(p)) throw badRequest(`credential_ref file:${p} must be an absolute path`);
    const cached = this.files.get(p);
    if (cached && Date.now() - cached.at < FILE_TTL_MS) return cached.value;
    let value: string;
    try {
      value = (await fsp.readFile(p, 'utf8')).replace(/\r?\n$/, '');
    } catch (e) {
      throw new WrappingError('BAD_REQUEST', `credential_ref file:${p} cannot be read by crk-wrapping (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (!value) throw badRequest(`credential_ref file:${p} is empty`);
    this.files.set(p, { value, at: Date.now() });
    return value;
  }
}
