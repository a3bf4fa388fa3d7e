// The generated tag/enumeration registry (libs/kmip/registry -> src/generated).
// Known values below are checked against the OASIS KMIP specifications
// (1.4 §9.1.3.1 Table 288 and §9.1.3.2; 2.1 §11) and common KMIP knowledge,
// not against the registry data itself.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CryptographicAlgorithm,
  CryptographicUsageMask,
  ENUM_INFO,
  KMIP_VERSIONS,
  KeyFormatType,
  LinkType,
  ObjectType,
  Operation,
  ResultReason,
  ResultStatus,
  State,
  TAG_BY_SPEC_NAME,
  TAG_INFO,
  Tag,
  enumValueDefinedIn,
  tagDefinedIn,
} from '../src/generated';

const LIB = path.resolve(__dirname, '..');
const SCRIPT = path.join(LIB, 'scripts', 'gen-registry.js');
const COMMITTED = path.join(LIB, 'src', 'generated', 'index.ts');

describe('tag values', () => {
  it('match the KMIP message framing tags', () => {
    expect(Tag.RequestMessage).toBe(0x420078);
    expect(Tag.ResponseMessage).toBe(0x42007b);
    expect(Tag.RequestHeader).toBe(0x420077);
    expect(Tag.ResponseHeader).toBe(0x42007a);
    expect(Tag.ProtocolVersion).toBe(0x420069);
    expect(Tag.ProtocolVersionMajor).toBe(0x42006a);
    expect(Tag.ProtocolVersionMinor).toBe(0x42006b);
    expect(Tag.BatchCount).toBe(0x42000d);
    expect(Tag.BatchItem).toBe(0x42000f);
    expect(Tag.Operation).toBe(0x42005c);
    expect(Tag.UniqueBatchItemID).toBe(0x420093);
    expect(Tag.RequestPayload).toBe(0x420079);
    expect(Tag.ResponsePayload).toBe(0x42007c);
    expect(Tag.ResultStatus).toBe(0x42007f);
    expect(Tag.ResultReason).toBe(0x42007e);
    expect(Tag.ResultMessage).toBe(0x42007d);
    expect(Tag.TimeStamp).toBe(0x420092);
  });

  it('match well-known object and attribute tags', () => {
    expect(Tag.UniqueIdentifier).toBe(0x420094);
    expect(Tag.ObjectType).toBe(0x420057);
    expect(Tag.Attribute).toBe(0x420008);
    expect(Tag.AttributeName).toBe(0x42000a);
    expect(Tag.AttributeValue).toBe(0x42000b);
    expect(Tag.TemplateAttribute).toBe(0x420091);
    expect(Tag.CryptographicAlgorithm).toBe(0x420028);
    expect(Tag.CryptographicLength).toBe(0x42002a);
    expect(Tag.CryptographicUsageMask).toBe(0x42002c);
    expect(Tag.SymmetricKey).toBe(0x42008f);
    expect(Tag.KeyBlock).toBe(0x420040);
    expect(Tag.KeyValue).toBe(0x420045);
    expect(Tag.KeyMaterial).toBe(0x420043);
    expect(Tag.State).toBe(0x42008d);
    expect(Tag.Attributes).toBe(0x420125); // KMIP 2.0
  });

  it('carries spec names, types and enumerations', () => {
    const alg = TAG_BY_SPEC_NAME.get('Cryptographic Algorithm');
    expect(alg).toMatchObject({ tag: 0x420028, name: 'CryptographicAlgorithm', type: 'Enumeration', enumName: 'CryptographicAlgorithm', since: '1.0' });
    expect(TAG_BY_SPEC_NAME.get('Template-Attribute')?.name).toBe('TemplateAttribute');
    expect(TAG_INFO.get(Tag.ObjectType)?.enumName).toBe('ObjectType');
    expect(TAG_INFO.get(Tag.UniqueIdentifier)?.type).toBe('TextString');
    expect(TAG_INFO.get(Tag.RequestMessage)?.type).toBe('Structure');
    expect(TAG_INFO.get(Tag.ActivationDate)?.type).toBe('DateTime');
    expect(TAG_INFO.get(Tag.CryptographicLength)?.type).toBe('Integer');
    expect(TAG_INFO.get(Tag.AttributeValue)?.type).toBeNull();
    expect(TAG_INFO.get(Tag.CryptographicUsageMask)?.enumName).toBe('CryptographicUsageMask');
  });
});

describe('enumeration values', () => {
  it('Object Type', () => {
    expect(ObjectType.Certificate).toBe(1);
    expect(ObjectType.SymmetricKey).toBe(2);
    expect(ObjectType.PublicKey).toBe(3);
    expect(ObjectType.PrivateKey).toBe(4);
    expect(ObjectType.SecretData).toBe(7);
    expect(ObjectType.OpaqueObject).toBe(8);
  });

  it('Operation', () => {
    expect(Operation.Create).toBe(0x01);
    expect(Operation.Register).toBe(0x03);
    expect(Operation.Locate).toBe(0x08);
    expect(Operation.Get).toBe(0x0a);
    expect(Operation.GetAttributes).toBe(0x0b);
    expect(Operation.Activate).toBe(0x12);
    expect(Operation.Revoke).toBe(0x13);
    expect(Operation.Destroy).toBe(0x14);
    expect(Operation.Query).toBe(0x18);
    expect(Operation.DiscoverVersions).toBe(0x1e);
    expect(Operation.Encrypt).toBe(0x1f);
  });

  it('Result Status and Result Reason', () => {
    expect(ResultStatus.Success).toBe(0);
    expect(ResultStatus.OperationFailed).toBe(1);
    expect(ResultStatus.OperationPending).toBe(2);
    expect(ResultStatus.OperationUndone).toBe(3);
    expect(ResultReason.ItemNotFound).toBe(1);
    expect(ResultReason.OperationNotSupported).toBe(5);
    expect(ResultReason.GeneralFailure).toBe(0x100);
  });

  it('Cryptographic Algorithm, Key Format Type, Link Type', () => {
    expect(CryptographicAlgorithm.DES).toBe(1);
    expect(CryptographicAlgorithm._3DES).toBe(2);
    expect(CryptographicAlgorithm.AES).toBe(3);
    expect(CryptographicAlgorithm.RSA).toBe(4);
    expect(KeyFormatType.Raw).toBe(1);
    expect(KeyFormatType.TransparentSymmetricKey).toBe(7);
    expect(LinkType.CertificateLink).toBe(0x101);
  });

  it('State values are 1..6 in lifecycle order', () => {
    expect([State.PreActive, State.Active, State.Deactivated, State.Compromised, State.Destroyed, State.DestroyedCompromised]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(ENUM_INFO.get('State')?.values.map((v) => v.value)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('Cryptographic Usage Mask is a bit mask', () => {
    expect(ENUM_INFO.get('CryptographicUsageMask')?.isMask).toBe(true);
    expect(CryptographicUsageMask.Sign).toBe(0x01);
    expect(CryptographicUsageMask.Verify).toBe(0x02);
    expect(CryptographicUsageMask.Encrypt).toBe(0x04);
    expect(CryptographicUsageMask.Decrypt).toBe(0x08);
    expect(CryptographicUsageMask.WrapKey).toBe(0x10);
    expect(CryptographicUsageMask.UnwrapKey).toBe(0x20);
  });
});

describe('tagDefinedIn', () => {
  it('respects since: a 2.0 tag is not in 1.x', () => {
    expect(tagDefinedIn(Tag.Attributes, '1.1')).toBe(false);
    expect(tagDefinedIn(Tag.Attributes, '1.4')).toBe(false);
    expect(tagDefinedIn(Tag.Attributes, '2.0')).toBe(true);
    expect(tagDefinedIn(Tag.Attributes, '2.1')).toBe(true);
    expect(tagDefinedIn(Tag.RotateInterval, '2.0')).toBe(false);
    expect(tagDefinedIn(Tag.RotateInterval, '2.1')).toBe(true);
    expect(tagDefinedIn(Tag.DeviceIdentifier, '1.0')).toBe(false); // KMIP 1.1
    expect(tagDefinedIn(Tag.DeviceIdentifier, '1.1')).toBe(true);
  });

  it('respects until: tags 2.0 reserved are defined through 1.4 only', () => {
    for (const tag of [Tag.TemplateAttribute, Tag.Template, Tag.AttributeIndex, Tag.OperationPolicyName]) {
      expect(tagDefinedIn(tag, '1.0')).toBe(true);
      expect(tagDefinedIn(tag, '1.4')).toBe(true);
      expect(tagDefinedIn(tag, '2.0')).toBe(false);
      expect(tagDefinedIn(tag, '2.1')).toBe(false);
    }
    expect(TAG_INFO.get(Tag.TemplateAttribute)).toMatchObject({ since: '1.0', until: '1.4' });
  });

  it('is false for unknown and extension tags', () => {
    expect(tagDefinedIn(0x420000, '2.1')).toBe(false);
    expect(tagDefinedIn(0x42ffff, '2.1')).toBe(false);
    expect(tagDefinedIn(0x540001, '1.4')).toBe(false);
  });

  it('counts match the spec tag tables', () => {
    const count = (v: (typeof KMIP_VERSIONS)[number]) => [...TAG_INFO.keys()].filter((t) => tagDefinedIn(t, v)).length;
    // 1.4 assigns 0x420001-0x420124. 2.0 reserves 17 of them (Attribute Index, the 1.0 certificate
    // name tags, Template-Attribute and friends, Operation Policy Name, ...) and adds 0x420125-0x420165
    // except 0x42013E-0x42013F. 2.1 adds 0x420166-0x420176.
    expect(count('1.4')).toBe(0x124);
    expect(count('2.0')).toBe(0x124 - 17 + (0x165 - 0x124) - 2);
    expect(count('2.1')).toBe(count('2.0') + (0x176 - 0x165));
  });
});

describe('enumValueDefinedIn', () => {
  it('respects since and until', () => {
    expect(enumValueDefinedIn('Operation', Operation.DiscoverVersions, '1.0')).toBe(false);
    expect(enumValueDefinedIn('Operation', Operation.DiscoverVersions, '1.1')).toBe(true);
    expect(enumValueDefinedIn('Operation', Operation.DiscoverVersions, '2.1')).toBe(true);
    expect(enumValueDefinedIn('ObjectType', ObjectType.Template, '1.4')).toBe(true);
    expect(enumValueDefinedIn('ObjectType', ObjectType.Template, '2.0')).toBe(false);
    expect(enumValueDefinedIn('ObjectType', ObjectType.PGPKey, '1.1')).toBe(false);
    expect(enumValueDefinedIn('ObjectType', ObjectType.PGPKey, '1.2')).toBe(true);
  });

  it('checks every bit of a mask', () => {
    const m = CryptographicUsageMask;
    expect(enumValueDefinedIn('CryptographicUsageMask', m.Encrypt | m.Decrypt, '1.0')).toBe(true);
    expect(enumValueDefinedIn('CryptographicUsageMask', m.Export, '1.4')).toBe(true);
    expect(enumValueDefinedIn('CryptographicUsageMask', m.Encrypt | m.Export, '2.0')).toBe(false);
    expect(enumValueDefinedIn('CryptographicUsageMask', m.FPEEncrypt, '1.4')).toBe(false);
    expect(enumValueDefinedIn('CryptographicUsageMask', 0, '1.0')).toBe(true);
  });

  it('is false for unknown enumerations, values and extensions', () => {
    expect(enumValueDefinedIn('NoSuchEnumeration', 1, '2.1')).toBe(false);
    expect(enumValueDefinedIn('ObjectType', 0, '2.1')).toBe(false);
    expect(enumValueDefinedIn('ObjectType', 0x80000001, '2.1')).toBe(false);
  });

  it('knows the Tag enumeration', () => {
    expect(enumValueDefinedIn('Tag', Tag.UniqueIdentifier, '1.0')).toBe(true);
    expect(enumValueDefinedIn('Tag', Tag.Attributes, '1.4')).toBe(false);
  });
});

describe('registry invariants', () => {
  it('lists versions in ascending order', () => {
    expect(KMIP_VERSIONS).toEqual(['1.0', '1.1', '1.2', '1.3', '1.4', '2.0', '2.1']);
  });

  it('gives every tag a name, a section and a resolvable enumeration', () => {
    const names = Object.entries(Tag);
    expect(names).toHaveLength(TAG_INFO.size);
    for (const [name, tag] of names) {
      const info = TAG_INFO.get(tag);
      expect(info?.name).toBe(name);
      expect(info?.section).toMatch(/^KMIP [12]\.[0-4] spec §/);
      expect(TAG_BY_SPEC_NAME.get(info?.specName ?? '')).toBe(info);
      if (info?.type === 'Enumeration') expect(info.enumName).toBeDefined();
      if (info?.enumName) expect(ENUM_INFO.has(info.enumName)).toBe(true);
    }
  });

  it('gives every enumeration value a section and a version range', () => {
    for (const e of ENUM_INFO.values()) {
      expect(e.section).toMatch(/^KMIP [12]\.[0-4] spec §/);
      for (const v of e.values) {
        expect(v.section).toMatch(/^KMIP [12]\.[0-4] spec §/);
        expect(KMIP_VERSIONS).toContain(v.since);
        if (v.until) expect(KMIP_VERSIONS.indexOf(v.until)).toBeGreaterThanOrEqual(KMIP_VERSIONS.indexOf(v.since));
      }
    }
  });
});

describe('gen-registry.js', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmip-registry-'));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is deterministic and the committed output is up to date', () => {
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    execFileSync(process.execPath, [SCRIPT, '--out', a], { stdio: 'pipe' });
    execFileSync(process.execPath, [SCRIPT, '--out', b], { stdio: 'pipe' });
    const first = fs.readFileSync(path.join(a, 'index.ts'), 'utf8');
    expect(fs.readFileSync(path.join(b, 'index.ts'), 'utf8')).toBe(first);
    expect(first.startsWith('// Generated by libs/kmip/scripts/gen-registry.js from libs/kmip/registry/. Do not edit.\n')).toBe(true);
    // If this fails, run `npm run generate -w libs/kmip` and commit the result.
    expect(fs.readFileSync(COMMITTED, 'utf8')).toBe(first);
  });

  it('rejects duplicate tags, unknown enumerations and missing sections', () => {
    const gen = require(SCRIPT) as { validate: (tags: unknown, enums: unknown) => { errors: string[] } };
    const enums = { enums: [{ specName: 'Object Type', since: '1.0', section: 'KMIP 1.0 spec §9.1.3.2.11 Table 204', values: [] }] };
    const tag = (hex: string, specName: string, extra: object = {}) => ({ tag: hex, specName, type: 'Enumeration', enum: 'Object Type', since: '1.0', section: 'KMIP 1.0 spec §9.1.3.1 Table 193', ...extra });
    expect(gen.validate({ tags: [tag('0x420057', 'Object Type')] }, enums).errors).toEqual([]);
    const errors = gen.validate(
      { tags: [tag('0x420057', 'Object Type'), tag('0x420057', 'Other'), tag('0x420058', 'Third', { enum: 'Nope' }), tag('0x420059', 'Fourth', { section: '' }), tag('0x42005A', 'Fifth', { since: '3.0' })] },
      enums,
    ).errors.join('\n');
    expect(errors).toMatch(/duplicate tag value 0x420057/);
    expect(errors).toMatch(/enum "Nope" is not in enums.json/);
    expect(errors).toMatch(/section "" is not of the form/);
    expect(errors).toMatch(/since "3.0" is not a KMIP version/);
  });
});
