// internalRoleNamed: which subject CNs and SANs name one of keywarden's
// internal roles (the check the CLI and the issuing side share).
import { INTERNAL_ROLE_NAMES, SPIFFE_PREFIX, internalRoleNamed } from '@keywarden/common';

describe('internalRoleNamed', () => {
  test.each(INTERNAL_ROLE_NAMES.map((n) => [n]))('the common name %s, in any case', (name) => {
    expect(internalRoleNamed([name], [])).toBe(name);
    expect(internalRoleNamed([name.toUpperCase()], [])).toBe(name.toUpperCase());
  });

  test.each([
    [['vcenter.example.com', 'Admin'], [], 'Admin'],
    [['vcenter.example.com'], ['DNS-ish vcenter.example.com', 'spiffe://keywarden/operator/alice'], 'spiffe://keywarden/operator/alice'],
    [['crk-wrapping'], ['vcenter.example.com'], 'crk-wrapping'],
    [['vc'], ['SPIFFE://KeyWarden/kmip-gateway'], 'SPIFFE://KeyWarden/kmip-gateway'],
    [['vc'], ['spiffe://keywarden'], 'spiffe://keywarden'],
    [['vc'], ['spiffe://keywarden/anything-else'], 'spiffe://keywarden/anything-else'],
    [['vc'], ['key-lifecycle'], 'key-lifecycle'],
    [[' admin '], [], ' admin '],
    [['admin.'], [], 'admin.'],
    [['ad\u0000min'], [], 'ad\u0000min'],
    [['op\u200berator'], [], 'op\u200berator'],
    [['ＡＤＭＩＮ'], [], 'ＡＤＭＩＮ'],
    [[`${SPIFFE_PREFIX}operator`], [], `${SPIFFE_PREFIX}operator`],
  ])('several names, CN and SAN disagreeing, disguised forms: %j %j -> %j', (cns, sans, hit) => {
    expect(internalRoleNamed(cns, sans)).toBe(hit);
  });

  test.each([
    [['vcenter.example.com'], ['vcenter.example.com', '192.0.2.1']],
    [['administrator', 'vcenter-admin', 'operators'], []],
    [['vc'], ['spiffe://other/operator', 'https://keywarden/operator', 'spiffe:/keywarden/operator']],
    [[], []],
    [['*'], ['*.example.com']],
  ])('names of no internal role: %j %j', (cns, sans) => {
    expect(internalRoleNamed(cns, sans)).toBeUndefined();
  });
});
