// The KMIP enumeration and tag values key-lifecycle needs, from the KMIP 1.2
// specification section 9.1.3 (tags: Table 230; enumerations: 9.1.3.2.x).
// Interim copy: to be replaced by the generated registry in @keywarden/kmip.

export const ObjectType = {
  Certificate: 1,
  SymmetricKey: 2,
  PublicKey: 3,
  PrivateKey: 4,
  SplitKey: 5,
  Template: 6,
  SecretData: 7,
  OpaqueObject: 8,
  PgpKey: 9,
} as const;

// 9.1.3.2.18
export const State = {
  PreActive: 1,
  Active: 2,
  Deactivated: 3,
  Compromised: 4,
  Destroyed: 5,
  DestroyedCompromised: 6,
} as const;

// 9.1.3.2.13 (symmetric algorithms key-lifecycle accepts; the rest are listed for names only)
export const CryptographicAlgorithm = {
  Des: 1,
  TripleDes: 2,
  Aes: 3,
  Rsa: 4,
  Dsa: 5,
  Ecdsa: 6,
  HmacSha1: 7,
  HmacSha224: 8,
  HmacSha256: 9,
  HmacSha384: 10,
  HmacSha512: 11,
  HmacMd5: 12,
  Blowfish: 0x10,
  Camellia: 0x11,
  Twofish: 0x19,
} as const;

// 9.1.3.2.3
export const KeyFormatType = {
  Raw: 1,
  Opaque: 2,
  TransparentSymmetricKey: 7,
} as const;

// 9.1.3.2.9
export const SecretDataType = {
  Password: 1,
  Seed: 2,
} as const;

// 9.1.3.2.19
export const RevocationReasonCode = {
  Unspecified: 1,
  KeyCompromise: 2,
  CaCompromise: 3,
  AffiliationChanged: 4,
  Superseded: 5,
  CessationOfOperation: 6,
  PrivilegeWithdrawn: 7,
} as const;

// 9.1.3.3.1
export const CryptographicUsageMask = {
  Sign: 0x1,
  Verify: 0x2,
  Encrypt: 0x4,
  Decrypt: 0x8,
  WrapKey: 0x10,
  UnwrapKey: 0x20,
  Export: 0x40,
  MacGenerate: 0x80,
  MacVerify: 0x100,
  DeriveKey: 0x200,
  ContentCommitment: 0x400,
  KeyAgreement: 0x800,
  CertificateSign: 0x1000,
  CrlSign: 0x2000,
  GenerateCryptogram: 0x4000,
  ValidateCryptogram: 0x8000,
  TranslateEncrypt: 0x10000,
  TranslateDecrypt: 0x20000,
  TranslateWrap: 0x40000,
  TranslateUnwrap: 0x80000,
} as const;

// 9.1.3.2.21 (KMIP 1.x values; KMIP 2.x added more, which the gateway maps)
export const ResultReason = {
  ItemNotFound: 0x01,
  ResponseTooLarge: 0x02,
  AuthenticationNotSuccessful: 0x03,
  InvalidMessage: 0x04,
  OperationNotSupported: 0x05,
  MissingData: 0x06,
  InvalidField: 0x07,
  FeatureNotSupported: 0x08,
  OperationCanceledByRequester: 0x09,
  CryptographicFailure: 0x0a,
  IllegalOperation: 0x0b,
  PermissionDenied: 0x0c,
  ObjectArchived: 0x0d,
  IndexOutOfBounds: 0x0e,
  ApplicationNamespaceNotSupported: 0x0f,
  KeyFormatTypeNotSupported: 0x10,
  KeyCompressionTypeNotSupported: 0x11,
  EncodingOptionError: 0x12,
  KeyValueNotPresent: 0x13,
  GeneralFailure: 0x100,
} as const;

// Table 230 (only the structure fields of attributes key-lifecycle understands)
export const Tag = {
  ApplicationData: 0x420002,
  ApplicationNamespace: 0x420003,
  BlockCipherMode: 0x420011,
  CryptographicAlgorithm: 0x420028,
  HashingAlgorithm: 0x420038,
  KeyRoleType: 0x420083,
  LinkType: 0x42004b,
  LinkedObjectIdentifier: 0x42004c,
  NameType: 0x420054,
  NameValue: 0x420055,
  PaddingMethod: 0x42005f,
  RevocationMessage: 0x420080,
  RevocationReasonCode: 0x420082,
  DigitalSignatureAlgorithm: 0x4200ae,
  AlternativeNameValue: 0x4200c0,
  AlternativeNameType: 0x4200c1,
  RandomIv: 0x4200c5,
  IvLength: 0x4200cd,
  TagLength: 0x4200ce,
  FixedFieldLength: 0x4200cf,
  InvocationFieldLength: 0x4200d2,
  CounterLength: 0x4200d0,
  InitialCounterValue: 0x4200d1,
} as const;
