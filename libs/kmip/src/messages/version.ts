import type { KmipVersion } from '../generated';

/** Protocol Version as carried in message headers (KMIP 1.4 §6.1). */
export interface ProtocolVersion {
  major: number;
  minor: number;
}

/** Every version the codec speaks, newest first (the order Discover Versions answers in). */
export const SUPPORTED_VERSIONS: readonly ProtocolVersion[] = [
  { major: 2, minor: 1 }, { major: 2, minor: 0 },
  { major: 1, minor: 4 }, { major: 1, minor: 3 }, { major: 1, minor: 2 }, { major: 1, minor: 1 }, { major: 1, minor: 0 },
];

export function versionKey(v: ProtocolVersion): KmipVersion | undefined {
  const k = `${v.major}.${v.minor}`;
  return SUPPORTED_VERSIONS.some((s) => s.major === v.major && s.minor === v.minor) ? (k as KmipVersion) : undefined;
}

export function compareVersions(a: ProtocolVersion, b: ProtocolVersion): number {
  return a.major - b.major || a.minor - b.minor;
}

export function isV2(v: ProtocolVersion): boolean {
  return v.major >= 2;
}

/**
 * The version to answer a request in: the request's own when supported;
 * for an unknown minor version, the highest supported one below it in the
 * same major version, so the reply never holds anything the client's
 * version does not define.
 */
export function responseVersion(requested: ProtocolVersion): ProtocolVersion {
  if (versionKey(requested)) return requested;
  const sameMajor = SUPPORTED_VERSIONS.filter((s) => s.major === requested.major && s.minor < requested.minor);
  if (sameMajor.length) return sameMajor[0];
  return requested.major > 2 ? SUPPORTED_VERSIONS[0] : { major: 1, minor: 0 };
}
