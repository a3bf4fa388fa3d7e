// Known-answer tests of the cryptography behind Encrypt, Decrypt, MAC, key
// wrapping and Derive Key (operations/crypto/), each vector named by the
// document it comes from; and the refusals of bad parameters, which must be
// KMIP errors that carry no key material.
import { generateKeyPairSync } from 'crypto';
import { ServiceError } from '@keywarden/common';
import { BlockCipherMode as M, CryptographicAlgorithm as A, HashingAlgorithm as H, PaddingMethod as P, ResultReason } from '@keywarden/kmip';
import { aesDecrypt, aesEncrypt, hmac, MAX_DATA_BYTES, checkData, rsaDecrypt, rsaEncrypt, sameMac, signData, verifyData } from '../src/operations/crypto/engine';
import { aesUnwrap, aesWrap, rsaUnwrap, rsaWrap } from '../src/operations/crypto/key-wrapping';
import { hkdfDerive, kdfCounter, pbkdf2Derive } from '../src/operations/crypto/derivation';
import { shapeOf } from '../src/operations/crypto/keys';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function reasonOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof ServiceError) return e.kmipReason;
    throw e;
  }
  return undefined;
}

async function reasonOfAsync(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ServiceError) return e.kmipReason;
    throw e;
  }
  return undefined;
}

describe('AES-GCM (McGrew and Viega, "The Galois/Counter Mode of Operation", test cases 3 and 4)', () => {
  const key = hex('feffe9928665731c6d6a8f9467308308');
  const iv = hex('cafebabefacedbaddecaf888');
  const p = hex(`d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72
                 1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255`);
  const c = hex(`42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e
                 21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985`);
  const gcm = { blockCipherMode: M.GCM };

  it('test case 3: no additional data', () => {
    const r = aesEncrypt(key, gcm, p, iv);
    expect(r).toEqual({ data: c, iv: undefined, tag: hex('4d5c2af327cd64a62cf35abd2ba6fab4') });
    expect(aesDecrypt(key, gcm, c, iv, undefined, r.tag)).toEqual(p);
  });

  it('test case 4: with additional data', () => {
    const aad = hex('feedfacedeadbeeffeedfacedeadbeefabaddad2');
    const r = aesEncrypt(key, gcm, p.subarray(0, 60), iv, aad);
    expect(r.data).toEqual(c.subarray(0, 60));
    expect(r.tag).toEqual(hex('5bc94fbc3221a5db94fae95ae7121a47'));
    expect(aesDecrypt(key, gcm, r.data, iv, aad, r.tag)).toEqual(p.subarray(0, 60));
  });

  it('a changed tag, ciphertext or additional data fails as Cryptographic Failure', () => {
    const tag = hex('4d5c2af327cd64a62cf35abd2ba6fab4');
    const bad = Buffer.from(tag);
    bad[0] ^= 1;
    expect(reasonOf(() => aesDecrypt(key, gcm, c, iv, undefined, bad))).toBe(ResultReason.CryptographicFailure);
    const flipped = Buffer.from(c);
    flipped[5] ^= 1;
    expect(reasonOf(() => aesDecrypt(key, gcm, flipped, iv, undefined, tag))).toBe(ResultReason.CryptographicFailure);
    expect(reasonOf(() => aesDecrypt(key, gcm, c, iv, Buffer.from('aad'), tag))).toBe(ResultReason.CryptographicFailure);
  });

  it('makes a fresh 96-bit nonce when none is given, and refuses to when Random IV is False', () => {
    const a = aesEncrypt(key, gcm, p);
    const b = aesEncrypt(key, gcm, p);
    expect(a.iv).toHaveLength(12);
    expect(a.iv).not.toEqual(b.iv);
    expect(aesDecrypt(key, gcm, a.data, a.iv, undefined, a.tag)).toEqual(p);
    expect(reasonOf(() => aesEncrypt(key, { ...gcm, randomIv: false }, p))).toBe(ResultReason.MissingInitializationVector);
    expect(reasonOf(() => aesDecrypt(key, gcm, c, undefined, undefined, hex('00')))).toBe(ResultReason.MissingInitializationVector);
  });
});

describe('AES-CBC (NIST SP 800-38A §F.2.1 CBC-AES128.Encrypt)', () => {
  const key = hex('2b7e151628aed2a6abf7158809cf4f3c');
  const iv = hex('000102030405060708090a0b0c0d0e0f');
  const p = hex('6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51');
  const c = hex('7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2');

  it('without padding: the vector', () => {
    const none = { blockCipherMode: M.CBC, paddingMethod: P.None };
    expect(aesEncrypt(key, none, p, iv)).toEqual({ data: c, iv: undefined });
    expect(aesDecrypt(key, none, c, iv)).toEqual(p);
    expect(reasonOf(() => aesEncrypt(key, none, p.subarray(0, 20), iv))).toBe(ResultReason.BadCryptographicParameters);
  });

  it('with PKCS#5 padding (the default): the vector plus one block of padding, and back', () => {
    const r = aesEncrypt(key, { blockCipherMode: M.CBC }, p, iv);
    expect(r.data.subarray(0, 32)).toEqual(c);
    expect(r.data).toHaveLength(48);
    expect(aesDecrypt(key, { blockCipherMode: M.CBC, paddingMethod: P.PKCS5 }, r.data, iv)).toEqual(p);
  });

  it('refuses an unsupported mode or padding by name, and a missing mode as bad parameters', () => {
    expect(reasonOf(() => aesEncrypt(key, { blockCipherMode: M.ECB }, p))).toBe(ResultReason.UnsupportedCryptographicParameters);
    expect(reasonOf(() => aesEncrypt(key, { blockCipherMode: M.CBC, paddingMethod: P.ANSIX923 }, p))).toBe(ResultReason.UnsupportedCryptographicParameters);
    expect(reasonOf(() => aesEncrypt(key, {}, p))).toBe(ResultReason.BadCryptographicParameters);
    expect(reasonOf(() => aesEncrypt(key, { blockCipherMode: M.CBC, cryptographicAlgorithm: A.RSA }, p))).toBe(ResultReason.BadCryptographicParameters);
  });
});

describe('HMAC (RFC 4231 §4.3, test case 2)', () => {
  const key = Buffer.from('Jefe');
  const data = Buffer.from('what do ya want for nothing?');
  it.each([
    [A.HMACSHA256, '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'],
    [A.HMACSHA384, 'af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649'],
    [A.HMACSHA512, '164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737'],
  ])('algorithm %i', (alg, mac) => {
    expect(hmac(alg, key, {}, data).toString('hex')).toBe(mac);
    expect(sameMac(hmac(alg, key, { cryptographicAlgorithm: alg }, data), hex(mac))).toBe(true);
    expect(sameMac(hmac(alg, key, {}, data), hex(mac).subarray(1))).toBe(false);
  });

  it('refuses a non-HMAC key and parameters naming another HMAC', () => {
    expect(reasonOf(() => hmac(A.AES, key, {}, data))).toBe(ResultReason.BadCryptographicParameters);
    expect(reasonOf(() => hmac(A.HMACSHA256, key, { cryptographicAlgorithm: A.HMACSHA512 }, data))).toBe(ResultReason.BadCryptographicParameters);
  });
});

describe('AES key wrap', () => {
  it('RFC 3394 §4.1 (128-bit KEK, 128-bit key) and §4.6 (256-bit KEK, 256-bit key)', () => {
    const kek = hex('000102030405060708090A0B0C0D0E0F');
    const w = aesWrap(kek, 'kw', hex('00112233445566778899AABBCCDDEEFF'));
    expect(w).toEqual(hex('1FA68B0A8112B447 AEF34BD8FB5A7B82 9D3E862371D2CFE5'));
    expect(aesUnwrap(kek, 'kw', w)).toEqual(hex('00112233445566778899AABBCCDDEEFF'));
    const kek256 = hex('000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F');
    const key256 = hex('00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F');
    expect(aesWrap(kek256, 'kw', key256)).toEqual(hex('28C9F404C4B810F4 CBCCB35CFB87F826 3F5786E2D80ED326 CBC7F0E71A99F43B FB988B9B7A02DD21'));
  });

  it('RFC 5649 §6 (192-bit KEK; 20-byte and 7-byte keys)', () => {
    const kek = hex('5840df6e29b02af1 ab493b705bf16ea1 ae8338f4dcc176a8');
    const w20 = aesWrap(kek, 'kwp', hex('c37b7e6492584340 bed1220780894115 5068f738'));
    expect(w20).toEqual(hex('138bdeaa9b8fa7fc 61f97742e72248ee 5ae6ae5360d1ae6a 5f54f373fa543b6a'));
    expect(aesWrap(kek, 'kwp', hex('466f7250617369'))).toEqual(hex('afbeb0f07dfbf541 9200f2ccb50bb24f'));
    expect(aesUnwrap(kek, 'kwp', w20)).toEqual(hex('c37b7e6492584340 bed1220780894115 5068f738'));
  });

  it('a wrong KEK or a changed wrapping fails the integrity check (Cryptographic Failure)', () => {
    const w = aesWrap(hex('000102030405060708090A0B0C0D0E0F'), 'kw', hex('00112233445566778899AABBCCDDEEFF'));
    expect(reasonOf(() => aesUnwrap(hex('000102030405060708090A0B0C0D0E0E'), 'kw', w))).toBe(ResultReason.CryptographicFailure);
    expect(reasonOf(() => aesUnwrap(hex('000102030405060708090A0B0C0D0E0F'), 'kw', w.subarray(0, 16)))).toBe(ResultReason.CryptographicFailure);
    // RFC 3394 wraps whole 64-bit blocks only.
    expect(reasonOf(() => aesWrap(hex('000102030405060708090A0B0C0D0E0F'), 'kw', hex('0011223344')))).toBe(ResultReason.BadCryptographicParameters);
  });
});

describe('RSA-OAEP, signatures (round trips with node:crypto\'s own keys; the interop suite checks them against PyKMIP\'s library)', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsaShape = shapeOf(rsa.publicKey);
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const ecShape = shapeOf(ec.publicKey);
  const data = Buffer.from('to be protected');

  it('OAEP with SHA-256 decrypts what it encrypts; the wrong hash fails as Cryptographic Failure; data over k - 2h - 2 is refused', () => {
    const p = { paddingMethod: P.OAEP, hashingAlgorithm: H.SHA256 };
    const c = rsaEncrypt(rsa.publicKey, rsaShape, p, data);
    expect(rsaDecrypt(rsa.privateKey, p, c)).toEqual(data);
    expect(reasonOf(() => rsaDecrypt(rsa.privateKey, { paddingMethod: P.OAEP, hashingAlgorithm: H.SHA1 }, c))).toBe(ResultReason.CryptographicFailure);
    expect(reasonOf(() => rsaEncrypt(rsa.publicKey, rsaShape, p, Buffer.alloc(256 - 64 - 1)))).toBe(ResultReason.InvalidField);
    expect(reasonOf(() => rsaEncrypt(rsa.publicKey, rsaShape, { paddingMethod: P.PKCS1V15 }, data))).toBe(ResultReason.UnsupportedCryptographicParameters);
  });

  it('RSA-PSS and PKCS#1 v1.5 signatures verify, and fail on other data', () => {
    for (const p of [{ paddingMethod: P.PSS, hashingAlgorithm: H.SHA256 }, { digitalSignatureAlgorithm: 5 /* SHA256WithRSAEncryption */ }]) {
      const sig = signData(rsa.privateKey, rsaShape, p, data);
      expect(verifyData(rsa.publicKey, rsaShape, p, data, sig)).toBe(true);
      expect(verifyData(rsa.publicKey, rsaShape, p, Buffer.from('other'), sig)).toBe(false);
    }
    // PKCS#1 v1.5 is deterministic.
    const p15 = { paddingMethod: P.PKCS1V15, hashingAlgorithm: H.SHA384 };
    expect(signData(rsa.privateKey, rsaShape, p15, data)).toEqual(signData(rsa.privateKey, rsaShape, p15, data));
    expect(reasonOf(() => signData(rsa.privateKey, rsaShape, { paddingMethod: P.PKCS1V15 }, data))).toBe(ResultReason.BadCryptographicParameters);
  });

  it('ECDSA on P-384 signs with SHA-384 by default (DER signatures); a garbled signature is just invalid', () => {
    const sig = signData(ec.privateKey, ecShape, {}, data);
    expect(sig[0]).toBe(0x30);
    expect(verifyData(ec.publicKey, ecShape, { hashingAlgorithm: H.SHA384 }, data, sig)).toBe(true);
    expect(verifyData(ec.publicKey, ecShape, { hashingAlgorithm: H.SHA256 }, data, sig)).toBe(false);
    expect(verifyData(ec.publicKey, ecShape, {}, data, Buffer.from('not a signature'))).toBe(false);
    expect(reasonOf(() => signData(ec.privateKey, ecShape, { paddingMethod: P.PSS, digitalSignatureAlgorithm: 8 }, data))).toBe(ResultReason.BadCryptographicParameters);
  });

  it('RSA-OAEP key wrapping: refuses what does not fit instead of failing later', () => {
    const p = { paddingMethod: P.OAEP, hashingAlgorithm: H.SHA256 };
    const key = Buffer.alloc(32, 9);
    expect(rsaUnwrap(rsa.privateKey, p, rsaWrap(rsa.publicKey, 2048, p, key))).toEqual(key);
    expect(reasonOf(() => rsaWrap(rsa.publicKey, 2048, p, Buffer.alloc(300)))).toBe(ResultReason.BadCryptographicParameters);
  });
});

describe('Derive Key', () => {
  it.each([
    // RFC 6070 §2 (PBKDF2-HMAC-SHA1).
    ['password', 'salt', 1, 20, H.SHA1, '0c60c80f961f0e71f3a9b524af6012062fe037a6'],
    ['password', 'salt', 2, 20, H.SHA1, 'ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957'],
    ['password', 'salt', 4096, 20, H.SHA1, '4b007901b765489abead49d926f721d065a429c1'],
    // RFC 7914 §11 (PBKDF2-HMAC-SHA256).
    ['passwd', 'salt', 1, 64, H.SHA256, '55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783'],
  ])('PBKDF2 of %s / %s, %i iterations', async (pw, salt, c, len, h, dk) => {
    expect((await pbkdf2Derive(Buffer.from(pw), Buffer.from(salt), c, h, len)).toString('hex')).toBe(dk);
  });

  it('PBKDF2 needs a salt and a bounded iteration count', async () => {
    expect(await reasonOfAsync(pbkdf2Derive(Buffer.from('pw'), undefined, 1, H.SHA256, 16))).toBe(ResultReason.InvalidField);
    expect(await reasonOfAsync(pbkdf2Derive(Buffer.from('pw'), Buffer.from('s'), 10_000_000, H.SHA256, 16))).toBe(ResultReason.InvalidField);
  });

  it('NIST SP 800-108 counter mode (NIST CAVP KBKDF, KDFCTR_gen.txt, HMAC_SHA256, BEFORE_FIXED, 32-bit counter, COUNT=0)', () => {
    const ki = hex('dd1d91b7d90b2bd3138533ce92b272fbf8a369316aefe242e659cc0ae238afe0');
    const fixed = hex('01322b96b30acd197979444e468e1c5c6859bf1b1cf951b7e725303e237e46b864a145fab25e517b08f8683d0315bb2911d80a0e8aba17f3b413faac');
    expect(kdfCounter(ki, fixed, H.SHA256, 16).toString('hex')).toBe('10621342bfb0fd40046c0e29f2cfdbf0');
    // Longer than one block: the second block continues the first.
    expect(kdfCounter(ki, fixed, H.SHA256, 48).subarray(0, 16).toString('hex')).toBe('10621342bfb0fd40046c0e29f2cfdbf0');
    expect(reasonOf(() => kdfCounter(ki, undefined, H.SHA256, 16))).toBe(ResultReason.InvalidField);
  });

  it('HKDF (RFC 5869 §A.1, test case 1)', async () => {
    const okm = await hkdfDerive(Buffer.alloc(22, 0x0b), hex('000102030405060708090a0b0c'), hex('f0f1f2f3f4f5f6f7f8f9'), H.SHA256, 42);
    expect(okm.toString('hex')).toBe('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
  });
});

describe('bounds', () => {
  it('refuses missing and oversized data with a clear Invalid Field', () => {
    expect(reasonOf(() => checkData(undefined, 'Encrypt'))).toBe(ResultReason.InvalidField);
    expect(reasonOf(() => checkData(Buffer.alloc(MAX_DATA_BYTES + 1), 'Encrypt'))).toBe(ResultReason.InvalidField);
    expect(checkData(Buffer.alloc(MAX_DATA_BYTES), 'Encrypt')).toHaveLength(MAX_DATA_BYTES);
  });
});
