import { randomBytes } from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { grpc } from '@keywarden/common';
import { Credentials } from '../src/credentials';
import { keyBytes } from '../src/keygen';
import { conventionMismatch, hpcsEndpoint, keyProtectEndpoint, normalizeEndpoint } from '../src/providers/keyprotect/endpoints';
import { standardKeyName } from '../src/providers/keyprotect/provider';
import { aadDigest, packInner, unpackInner } from '../src/providers/pkcs11/hsm';
import { isTransientStatus, parseRetryAfter, retryDelay } from '../src/resilience/retry';
import { decodeRef, encodeRef, RefKind, WrapMech } from '../src/sealed-ref';
import { failure } from './helpers';

describe('sealed reference format 1', () => {
  it('round-trips both kinds and starts with "KW", format 1', () => {
    const std = { kind: RefKind.StandardKey, crkId: 'crk-id', crkVersion: 'v-1', keyId: '2f1c…' } as const;
    const blob = { kind: RefKind.WrappedBlob, crkId: 'label', crkVersion: '3', mech: WrapMech.AesKeyWrapPad, blob: randomBytes(72) } as const;
    for (const r of [std, blob]) {
      const b = encodeRef(r);
      expect(b.subarray(0, 3)).toEqual(Buffer.from([0x4b, 0x57, 1]));
      expect(decodeRef(b)).toEqual(r);
    }
  });

  it('rejects anything else as INVALID_ARGUMENT: other magic, future format, truncation, trailing bytes', async () => {
    const good = encodeRef({ kind: RefKind.StandardKey, crkId: 'c', crkVersion: 'v', keyId: 'k' });
    const future = Buffer.from(good);
    future[2] = 2;
    for (const bad of [Buffer.from('hello'), future, good.subarray(0, good.length - 1), Buffer.concat([good, Buffer.from([0])]), Buffer.from([0x4b, 0x57, 1, 9, 0, 0])]) {
      const f = await failure(Promise.resolve().then(() => decodeRef(bad)));
      expect(f.code).toBe(grpc.status.INVALID_ARGUMENT);
    }
    expect((await failure(Promise.resolve().then(() => decodeRef(future)))).message).toMatch(/format 2 is not supported/);
  });
});

describe('retry policy', () => {
  const cfg = { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1_000 };
  const half = () => 0.5;

  it('retries 429 and 5xx but 501, and connection errors and timeouts', () => {
    expect([429, 500, 502, 503, 504].every(isTransientStatus)).toBe(true);
    expect([400, 401, 403, 404, 409, 410, 422, 501].some(isTransientStatus)).toBe(false);
    expect(retryDelay({ kind: 'network' }, 1, true, cfg, 10_000, half)).toBe(75);
    expect(retryDelay({ kind: 'timeout' }, 2, true, cfg, 10_000, half)).toBe(150);
    expect(retryDelay({ kind: 'status', status: 404 }, 1, true, cfg, 10_000)).toBeUndefined();
    expect(retryDelay({ kind: 'status', status: 501 }, 1, true, cfg, 10_000)).toBeUndefined();
  });

  it('never retries non-idempotent calls, stops at maxAttempts and at the deadline', () => {
    expect(retryDelay({ kind: 'status', status: 503 }, 1, false, cfg, 10_000)).toBeUndefined();
    expect(retryDelay({ kind: 'status', status: 503 }, 3, true, cfg, 10_000)).toBeUndefined();
    expect(retryDelay({ kind: 'status', status: 503 }, 1, true, cfg, 10, half)).toBeUndefined();
  });

  it('waits at least Retry-After, and gives up when it asks for more than maxDelayMs', () => {
    expect(retryDelay({ kind: 'status', status: 429, retryAfterMs: 800 }, 1, true, cfg, 10_000, half)).toBe(800);
    expect(retryDelay({ kind: 'status', status: 503, retryAfterMs: 5_000 }, 1, true, cfg, 10_000, half)).toBeUndefined();
    expect(parseRetryAfter('2')).toBe(2_000);
    expect(parseRetryAfter(new Date(Date.now() + 3_000).toUTCString())).toBeGreaterThan(1_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('credentials', () => {
  const master = randomBytes(32);

  it('seals with the master key and resolves sealed:, file: and env: references', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-cred-'));
    const c = new Credentials(master, { dir });
    const ref = c.seal(Buffer.from('api-key-123'));
    expect(ref).toMatch(/^sealed:[A-Za-z0-9+/=]+$/);
    expect(ref).not.toContain('api-key-123');
    expect(await c.resolve(ref)).toBe('api-key-123');
    expect(c.seal(Buffer.from('api-key-123'))).not.toBe(ref); // fresh IV

    try {
      fs.writeFileSync(path.join(dir, 'apikey'), 'from-a-file\n');
      expect(await c.resolve(`file:${path.join(dir, 'apikey')}`)).toBe('from-a-file');
      // The same answer as any refused reference: whether the file exists is not told.
      expect((await failure(c.resolve(`file:${path.join(dir, 'missing')}`))).message).toMatch(/file: is refused/);
      expect((await failure(c.resolve('file:relative/path'))).code).toBe(grpc.status.INVALID_ARGUMENT);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    process.env.KEYWARDEN_CRED_UNIT_TEST = 'from-env';
    expect(await c.resolve('env:KEYWARDEN_CRED_UNIT_TEST')).toBe('from-env');
    expect((await failure(c.resolve('env:KEYWARDEN_CRED_NOT_SET_ANYWHERE'))).message).toMatch(/that is set in crk-wrapping/);
    expect((await failure(c.resolve('api-key-in-clear'))).message).not.toContain('api-key-in-clear');
  });

  it('refuses a reference sealed under another master key, without echoing it', async () => {
    const ref = new Credentials(master).seal(Buffer.from('secret'));
    const f = await failure(new Credentials(randomBytes(32)).resolve(ref));
    expect(f.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(f.message).toMatch(/master key/);
    expect(f.message).not.toContain(ref.slice(7));
    expect(() => new Credentials(randomBytes(16))).toThrow(/32 bytes/);
  });
});

describe('generated key lengths (KMIP Cryptographic Algorithm)', () => {
  it('accepts AES 128/192/256, Triple DES and HMAC; refuses the rest', () => {
    expect([128, 192, 256].map((n) => keyBytes(3, n))).toEqual([16, 24, 32]);
    expect(keyBytes(2, 168)).toBe(24);
    expect(keyBytes(9, 256)).toBe(32);
    for (const [alg, len] of [[3, 512], [3, 0], [4, 2048], [6, 256], [9, 100]]) expect(() => keyBytes(alg, len)).toThrow();
  });
});

describe('provider endpoint conventions', () => {
  it('builds Key Protect and HPCS base URLs', () => {
    expect(keyProtectEndpoint('us-south')).toBe('https://us-south.kms.cloud.ibm.com');
    expect(keyProtectEndpoint('eu-de', { private: true })).toBe('https://private.eu-de.kms.cloud.ibm.com');
    expect(hpcsEndpoint('0a1b-2c', 'us-east')).toBe('https://0a1b-2c.api.us-east.hs-crypto.appdomain.cloud');
    expect(hpcsEndpoint('0a1b-2c', 'us-east', { private: true })).toBe('https://0a1b-2c.api.private.us-east.hs-crypto.appdomain.cloud');
  });

  it('normalizes base URLs and refuses plain http off loopback', () => {
    expect(normalizeEndpoint('https://us-south.kms.cloud.ibm.com/api/v2/', 'e', false)).toBe('https://us-south.kms.cloud.ibm.com');
    expect(normalizeEndpoint('http://127.0.0.1:7080', 'e', false)).toBe('http://127.0.0.1:7080');
    expect(() => normalizeEndpoint('http://kms.internal:7080', 'e', false)).toThrow(/plain http/);
    expect(normalizeEndpoint('http://kms.internal:7080', 'e', true)).toBe('http://kms.internal:7080');
    expect(() => normalizeEndpoint('https://user:pw@host', 'e', false)).toThrow(/credentials/);
    expect(() => normalizeEndpoint('ftp://host', 'e', false)).toThrow(/https/);
  });

  it('notes a production host that does not follow the service convention', () => {
    expect(conventionMismatch('hpcs', hpcsEndpoint('inst-1', 'us-south'), 'inst-1')).toBeUndefined();
    expect(conventionMismatch('hpcs', keyProtectEndpoint('us-south'), 'inst-1')).toMatch(/HPCS endpoints/);
    expect(conventionMismatch('keyprotect', keyProtectEndpoint('us-south'), 'x')).toBeUndefined();
    expect(conventionMismatch('keyprotect', 'http://127.0.0.1:1', 'x')).toBeUndefined();
  });

  it('names standard keys after the KMIP uid, within Key Protect limits', () => {
    expect(standardKeyName('6b1e7c4e-3f7a-4f57-9f0e-2b2b4f0f7e11')).toBe('kmip-6b1e7c4e-3f7a-4f57-9f0e-2b2b4f0f7e11');
    const odd = standardKeyName('a uid with spaces/and slashes');
    expect(odd).toMatch(/^kmip-[0-9a-f]{40}$/);
    expect(standardKeyName('x'.repeat(200)).length).toBeLessThanOrEqual(90);
  });
});

describe('PKCS#11 wrapped input', () => {
  it('binds the KEK to (tenant, uid) and pads to the AES key wrap block', () => {
    const kek = randomBytes(24);
    const d = aadDigest('tenant', 'uid');
    const inner = packInner(kek, d);
    expect(inner.length % 8).toBe(0);
    expect(unpackInner(inner, d)).toEqual(kek);
    expect(unpackInner(inner, aadDigest('tenant', 'uid2'))).toBeUndefined();
    // Length-prefixed: ("ab","c") and ("a","bc") differ.
    expect(aadDigest('ab', 'c').equals(aadDigest('a', 'bc'))).toBe(false);
    const bad = Buffer.from(inner);
    bad[0] = 9;
    expect(unpackInner(bad, d)).toBeUndefined();
  });
});
