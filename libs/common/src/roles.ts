// Names that belong to keywarden's own components and operators. The CLI
// signs and issues certificates for vCenter with the deployment's CA; such a
// certificate must never carry a name that a keywarden component could read
// as one of its internal roles, whichever name (subject CN or a subject
// alternative name) that component looks at.
import forge from 'node-forge';
import { SPIFFE_PREFIX } from './peer';

/** Common names of the internal identities (compared case-insensitively). */
export const INTERNAL_ROLE_NAMES: readonly string[] = ['admin', 'operator', 'console', 'admin-console', 'kmip-gateway', 'key-lifecycle', 'crk-wrapping', 'keyprotect-emulator'];

/** Any name starting with this (any case) is keywarden's: `spiffe://keywarden`, `spiffe://keywarden/…`. */
const SPIFFE_ROOT = SPIFFE_PREFIX.replace(/\/+$/, '');

/**
 * The form a verifier might compare a name in: Unicode compatibility forms
 * folded (a full-width "ａｄｍｉｎ" is "admin"), control and zero-width
 * characters dropped, surrounding spaces and a DNS root dot ignored, any case.
 */
function canonical(name: string): string {
  return name
    .normalize('NFKC')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200d\u2060\ufeff]/g, '')
    .trim()
    .replace(/\.+$/, '')
    .toLowerCase();
}

function isInternal(name: string): boolean {
  const c = canonical(name);
  return INTERNAL_ROLE_NAMES.includes(c) || c.startsWith(SPIFFE_ROOT);
}

/**
 * The first of `subjectCNs` or `sans` (as given) that names an internal role,
 * or undefined. A CN or SAN names one when it is one of INTERNAL_ROLE_NAMES or
 * starts with `spiffe://keywarden` (any case, see `canonical`). Every CN is
 * checked, not just the first: a certificate with several CNs is read
 * differently by different verifiers.
 */
export function internalRoleNamed(subjectCNs: string[], sans: string[]): string | undefined {
  return [...subjectCNs, ...sans].find(isInternal);
}

/** The subject common names and subject alternative names a CSR asks for. */
export interface RequestedNames {
  commonNames: string[];
  /** Every SAN of every extensionRequest: DNS, URI, e-mail, IP, registered ID, and the text inside other names. */
  sans: string[];
}

const OID_COMMON_NAME = '2.5.4.3';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';

/**
 * An ASN.1 string value as text. forge hands values over as byte strings and
 * decodes only the UTF8String of a subject attribute itself (`decoded`);
 * BMPString (UTF-16) and UniversalString (UTF-32) are decoded here, so a name
 * cannot hide behind its encoding.
 */
function asText(value: string, tag: number, decoded: boolean): string {
  const bytes = Buffer.from(value, 'binary');
  try {
    if (tag === forge.asn1.Type.BMPSTRING) return Buffer.from(bytes).swap16().toString('utf16le');
    if (tag === UNIVERSAL_STRING) {
      let out = '';
      for (let i = 0; i + 4 <= bytes.length; i += 4) out += String.fromCodePoint(bytes.readUInt32BE(i));
      return out;
    }
    if (tag === forge.asn1.Type.UTF8 && !decoded) return bytes.toString('utf8');
  } catch {
    // An odd length or a code point out of range: compare the bytes as they are.
  }
  return value;
}

const UNIVERSAL_STRING = 28;

/** The text leaves of an ASN.1 value (other names and directory names are structures). */
function leaves(node: forge.asn1.Asn1): string[] {
  if (Array.isArray(node.value)) return node.value.flatMap((n) => leaves(n));
  return [asText(node.value, node.type, false)];
}

interface AltName { type: number; value: string | forge.asn1.Asn1[]; ip?: string; oid?: string }

function altNameTexts(a: AltName): string[] {
  if (a.ip !== undefined) return [a.ip];
  if (a.oid !== undefined) return [a.oid];
  if (Array.isArray(a.value)) return a.value.flatMap((n) => leaves(n));
  return [a.value];
}

/**
 * Reads the names a PEM CSR requests. Throws when the CSR cannot be parsed.
 * The subject is read attribute by attribute (multi-valued RDNs included),
 * with BMPString values decoded, so no CN escapes the check by its encoding.
 */
export function requestedNames(csrPem: string): RequestedNames {
  const csr = forge.pki.certificationRequestFromPem(csrPem);
  const commonNames = csr.subject.attributes
    .filter((a) => a.type === OID_COMMON_NAME)
    .map((a) => asText(String(a.value ?? ''), (a as { valueTagClass?: number }).valueTagClass ?? forge.asn1.Type.UTF8, true));
  const sans: string[] = [];
  const attributes = (csr as unknown as { attributes?: Array<{ extensions?: Array<{ id?: string; altNames?: AltName[] }> }> }).attributes ?? [];
  for (const attr of attributes) {
    for (const ext of attr.extensions ?? []) {
      if (ext.id === OID_SUBJECT_ALT_NAME) sans.push(...(ext.altNames ?? []).flatMap(altNameTexts));
    }
  }
  return { commonNames, sans };
}
