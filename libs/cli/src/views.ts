// Admin API answers as people and scripts read them: enumerations by name
// ("state": "Active", "kind": "KEYPROTECT"), counts as numbers, dates as
// RFC 3339. The CLI's --json prints these views and the admin console sends
// them to the browser. Byte strings are shown as their length only: nothing
// that could be key material leaves through a view.
import { ENUM_INFO, TAG_BY_SPEC_NAME, TAG_INFO } from '@keywarden/kmip';
import { adminV1, lifecycleV1 } from '@keywarden/proto';

/** A 64-bit count as a number (exact up to 2^53, far beyond any count here). */
export const num = (v: bigint | number | undefined): number => Number(v ?? 0);

/** The spec name of one value of a KMIP enumeration ("Pre-Active"), or the number when unknown. */
export function enumLabel(enumName: string, value: number): string {
  return ENUM_INFO.get(enumName)?.values.find((v) => v.value === value)?.specName ?? String(value);
}

/** The names of the bits set in a KMIP bit mask (Cryptographic Usage Mask). */
export function maskLabels(enumName: string, value: number): string[] {
  const e = ENUM_INFO.get(enumName);
  if (!e) return [String(value)];
  const names = e.values.filter((v) => (value & v.value) !== 0).map((v) => v.specName);
  const rest = e.values.reduce((m, v) => m & ~v.value, value);
  return rest ? [...names, `0x${(rest >>> 0).toString(16)}`] : names;
}

/** Seconds since the epoch as RFC 3339 (the number itself when out of range). */
export function isoDate(seconds: bigint | number): string {
  const ms = Number(seconds) * 1000;
  return Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : String(seconds);
}

export const providerKindName = (k: adminV1.ProviderKind | undefined): string =>
  k === undefined ? 'UNSPECIFIED' : adminV1.providerKindToJSON(k).replace(/^PROVIDER_KIND_/, '');

export const operatorRoleName = (r: adminV1.OperatorRole): string => adminV1.operatorRoleToJSON(r).replace(/^OPERATOR_ROLE_/, '');

export type AttributeValueView = string | number | boolean | { bytes: number } | Record<string, unknown>;

/** One attribute value: enumerations by name (the attribute's or field's tag tells which), dates in RFC 3339. */
function valueView(v: lifecycleV1.AttributeValue | undefined, enumName: string | undefined): AttributeValueView {
  if (!v) return '';
  if (v.textString !== undefined) return v.textString;
  if (v.integer !== undefined) return enumName ? (ENUM_INFO.get(enumName)?.isMask ? maskLabels(enumName, v.integer).join('|') : enumLabel(enumName, v.integer)) : v.integer;
  if (v.enumeration !== undefined) return enumName ? enumLabel(enumName, v.enumeration) : v.enumeration;
  if (v.longInteger !== undefined) return num(v.longInteger);
  if (v.boolean !== undefined) return v.boolean;
  if (v.dateTime !== undefined) return isoDate(v.dateTime);
  if (v.dateTimeExtended !== undefined) return new Date(Number(v.dateTimeExtended / 1000n)).toISOString();
  if (v.interval !== undefined) return v.interval;
  if (v.byteString !== undefined) return { bytes: v.byteString.length };
  if (v.bigInteger !== undefined) return { bytes: v.bigInteger.length };
  if (v.structure !== undefined) {
    const out: Record<string, unknown> = {};
    for (const f of v.structure.fields) {
      const info = TAG_INFO.get(f.tag);
      out[info?.specName ?? `0x${f.tag.toString(16)}`] = valueView(f.value, info?.enumName);
    }
    return out;
  }
  return '';
}

export interface AttributeView {
  name: string;
  index: number;
  value: AttributeValueView;
}

export function attributeView(a: lifecycleV1.Attribute): AttributeView {
  return { name: a.name, index: a.index, value: valueView(a.value, TAG_BY_SPEC_NAME.get(a.name)?.enumName) };
}

/** An attribute value as one line of text. */
export function attributeText(v: AttributeValueView): string {
  if (typeof v !== 'object') return String(v);
  if ('bytes' in v && typeof v.bytes === 'number' && Object.keys(v).length === 1) return `<${v.bytes} bytes>`;
  return Object.entries(v).map(([k, x]) => `${k}=${attributeText(x as AttributeValueView)}`).join(', ');
}

export interface KeyView {
  uniqueIdentifier: string;
  tenantId: string;
  objectType: string;
  state: string;
  cryptographicAlgorithm: string;
  cryptographicLength: number;
  cryptographicUsageMask: string[];
  names: string[];
  crkVersion: string;
  createdBy: string;
  /** vCenter's tags: x-Name (the VM or host), x-Identifier, x-Component; '' when absent. */
  tags: { name: string; identifier: string; component: string };
  /** KMIP dates of the key, RFC 3339, by attribute name ("Initial Date", "Activation Date", ...). */
  dates: Record<string, string>;
  attributes: AttributeView[];
}

/** The values of one custom text attribute of a key, comma-separated ('' when absent). */
export function tagOf(k: adminV1.KeyInfo, name: string): string {
  return k.attributes.filter((a) => a.name === name).map((a) => attributeText(attributeView(a).value)).join(',');
}

export function keyView(k: adminV1.KeyInfo): KeyView {
  const dates: Record<string, string> = {};
  for (const a of k.attributes) if (a.value?.dateTime !== undefined) dates[a.name] = isoDate(a.value.dateTime);
  return {
    uniqueIdentifier: k.uniqueIdentifier,
    tenantId: k.tenantId,
    objectType: enumLabel('ObjectType', k.objectType),
    state: enumLabel('State', k.state),
    cryptographicAlgorithm: k.cryptographicAlgorithm ? enumLabel('CryptographicAlgorithm', k.cryptographicAlgorithm) : '',
    cryptographicLength: k.cryptographicLength,
    cryptographicUsageMask: maskLabels('CryptographicUsageMask', k.cryptographicUsageMask),
    names: k.names,
    crkVersion: k.crkVersion,
    createdBy: k.createdBy,
    tags: { name: tagOf(k, 'x-Name'), identifier: tagOf(k, 'x-Identifier'), component: tagOf(k, 'x-Component') },
    dates,
    attributes: k.attributes.map(attributeView),
  };
}

export function tenantView(t: adminV1.Tenant) {
  return {
    id: t.id,
    name: t.name,
    provider: {
      kind: providerKindName(t.provider?.kind),
      endpoint: t.provider?.endpoint ?? '',
      iamEndpoint: t.provider?.iamEndpoint ?? '',
      instanceId: t.provider?.instanceId ?? '',
      crkId: t.provider?.crkId ?? '',
    },
    credentialSource: t.credentialSource,
    createdAt: t.createdAt,
    keyCount: num(t.keyCount),
    certificateCount: t.certificateCount,
    quota: { keys: num(t.quota?.objects), attributeBytes: num(t.quota?.attributeBytes), keyCustomBytes: num(t.quota?.objectCustomAttributeBytes), defaults: t.quotaDefaults },
    usage: { keys: num(t.usage?.objects), attributeBytes: num(t.usage?.attributeBytes), destroyedKeys: num(t.usage?.destroyedObjects) },
  };
}

/** Whole days until `notAfter` (negative once expired); null when unreadable. */
export function daysLeft(notAfter: string, now = Date.now()): number | null {
  const ms = Date.parse(notAfter);
  return Number.isNaN(ms) ? null : Math.floor((ms - now) / 86_400_000);
}

/** Certificates that expire within this many days get a warning. */
export const EXPIRY_WARNING_DAYS = 30;

export function certificateView(c: adminV1.Certificate) {
  const left = daysLeft(c.notAfter);
  return {
    fingerprint: c.fingerprint, tenantId: c.tenantId, subject: c.subject, issuer: c.issuer,
    notBefore: c.notBefore, notAfter: c.notAfter, addedAt: c.addedAt, clientAuth: c.clientAuth,
    daysLeft: left, expiresSoon: left !== null && left < EXPIRY_WARNING_DAYS, warnings: c.warnings, passwordSet: c.passwordSet,
  };
}

export function rootKeyView(s: adminV1.RootKeyStatus) {
  return {
    tenantId: s.tenantId, crkId: s.crkId, state: s.state, currentVersion: s.currentVersion,
    lastRotated: s.lastRotated, detail: s.detail, keysOnOlderVersions: num(s.keysOnOlderVersions),
  };
}

export function jobView(j: adminV1.RewrapJob) {
  const total = num(j.total);
  const done = num(j.done);
  return {
    jobId: j.jobId, tenantId: j.tenantId, status: j.status, total, done,
    rewrapped: num(j.rewrapped), failed: num(j.failed), targetVersion: j.targetVersion, error: j.error,
    /** Whole percent done (100 for an empty tenant once finished). */
    percent: total > 0 ? Math.floor((done * 100) / total) : j.status === 'running' ? 0 : 100,
  };
}

export function auditView(e: adminV1.AuditEntry) {
  return {
    id: e.id, time: e.time, tenantId: e.tenantId, cert: e.cert, op: e.op, uniqueIdentifier: e.uniqueIdentifier,
    result: e.result, reason: e.reason ? enumLabel('ResultReason', e.reason) : '', operator: e.operator, detail: e.detail,
  };
}

export function operatorView(o: adminV1.Operator) {
  return { name: o.name, role: operatorRoleName(o.role), createdAt: o.createdAt, passwordChangedAt: o.passwordChangedAt };
}

export function deleteTenantView(r: adminV1.DeleteTenantResponse) {
  return { keysDeleted: num(r.keysDeleted), certificatesRemoved: r.certificatesRemoved };
}

/** KMIP Revocation Reason Codes by the names the CLI and console accept. */
export const REVOCATION_REASONS: Record<string, number> = {
  unspecified: 1, 'key-compromise': 2, 'ca-compromise': 3, 'affiliation-changed': 4, superseded: 5, 'cessation-of-operation': 6, 'privilege-withdrawn': 7,
};
