// The readable TTLV dump (dumpTtlv) of real-shaped messages: names, types,
// values, indentation; and what it must never show.
import {
  CredentialType, Tag, dumpTtlv, encodeRequest, encodeResponse, ttlv, vcenter,
  vcenterConversation,
} from '@keywarden/kmip';

const uid = '7f1c2a6e-3b8d-4c55-9f1e-2d4a6b8c0e11';
const key = Buffer.from('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', 'hex');

test('a vCenter Get request, indented with tag names, types and enumeration names', () => {
  const text = dumpTtlv(encodeRequest(vcenter.get(3, uid)));
  expect(text.split('\n').slice(0, 4)).toEqual([
    'RequestMessage (Structure)',
    '  RequestHeader (Structure)',
    '    ProtocolVersion (Structure)',
    '      ProtocolVersionMajor (Integer): 1',
  ]);
  expect(text).toContain('\n    Operation (Enumeration): Get (0x0000000a)\n');
  expect(text).toContain(`\n      UniqueIdentifier (TextString): "${uid}"`);
  expect(text).toMatch(/\n {4}UniqueBatchItemID \(ByteString\): <8 bytes>/);
});

test('key material shows its length only, also inside a whole conversation', () => {
  const conversation = vcenterConversation(uid, key);
  for (const [, m] of conversation.responses) {
    const text = dumpTtlv(encodeResponse(m));
    expect(text).not.toContain(key.toString('hex'));
    expect(text).not.toContain(key.toString('base64'));
  }
  const get = conversation.responses.find(([name]) => /get/i.test(name) && !/attribute/i.test(name));
  expect(get).toBeDefined();
  expect(dumpTtlv(encodeResponse(get![1]))).toMatch(/KeyMaterial \(ByteString\): <32 bytes>/);
});

test('a password in a Credential is hidden, its length shown', () => {
  const secret = 'hunter2-is-not-a-password';
  const m = vcenter.discoverVersions();
  m.header.authentication = ttlv.structure(Tag.Authentication, [ttlv.structure(Tag.Credential, [
    ttlv.enumeration(Tag.CredentialType, CredentialType.UsernameAndPassword),
    ttlv.structure(Tag.CredentialValue, [ttlv.textString(Tag.Username, 'vcenter'), ttlv.textString(Tag.Password, secret)]),
  ])]);
  const bytes = encodeRequest(m);
  const text = dumpTtlv(bytes);
  expect(text).toContain('Username (TextString): "vcenter"');
  expect(text).toContain(`Password (TextString): <hidden, ${secret.length} characters>`);
  expect(text).not.toContain(secret);
});

test('masks, dates, unknown tags, hex on request, line and text limits, and bytes that are not TTLV', () => {
  const tree = ttlv.structure(Tag.Attribute, [
    ttlv.textString(Tag.AttributeName, 'Cryptographic Usage Mask'),
    ttlv.integer(Tag.CryptographicUsageMask, 0x0c),
    ttlv.dateTime(Tag.ActivationDate, 1_700_000_000n),
    ttlv.textString(0x540001, 'x'.repeat(300)),
    ttlv.byteString(Tag.Nonce, Buffer.from([0xde, 0xad])),
  ]);
  const text = dumpTtlv(tree);
  expect(text).toContain('CryptographicUsageMask (Integer): Encrypt|Decrypt (0x0000000c)');
  expect(text).toContain('ActivationDate (DateTime): 2023-11-14T22:13:20.000Z (1700000000)');
  expect(text).toMatch(/0x540001 \(TextString\): "x{120}…"/);
  expect(text).toContain('Nonce (ByteString): <2 bytes>');
  expect(dumpTtlv(tree, { bytes: 'hex' })).toContain('Nonce (ByteString): dead');
  expect(dumpTtlv(tree, { maxLines: 2 }).split('\n')).toEqual(['Attribute (Structure)', '  AttributeName (TextString): "Cryptographic Usage Mask"', '… (cut after 2 lines)']);
  expect(dumpTtlv(Buffer.from('not ttlv at all'))).toMatch(/^<15 bytes that are not a TTLV message: /);
});
