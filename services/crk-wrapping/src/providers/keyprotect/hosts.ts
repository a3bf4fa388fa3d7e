import net from 'net';
import { badRequest } from '../../errors';

// The hosts crk-wrapping may send a tenant's API key (IAM) or bearer token
// (Key Protect, HPCS) to. Both URLs come from the tenant's settings, so
// without this list whoever may change a tenant could have crk-wrapping
// deliver the credential to any address it can reach, a listener of their
// own or an internal service included.

/**
 * IBM's documented endpoints: Key Protect (`<region>.kms.cloud.ibm.com`,
 * `private.<region>…`), Key Protect Dedicated (`<instance>.api[.private].<region>.kms.appdomain.cloud`),
 * HPCS (`<instance>.api[.private].<region>.hs-crypto.appdomain.cloud`, and the
 * port-based `api[.private].<region>.hs-crypto.cloud.ibm.com:<port>`), and IAM.
 */
export const DEFAULT_PROVIDER_HOSTS: readonly string[] = [
  '*.kms.cloud.ibm.com',
  '*.kms.appdomain.cloud',
  '*.hs-crypto.appdomain.cloud',
  '*.hs-crypto.cloud.ibm.com',
  'iam.cloud.ibm.com',
  'private.iam.cloud.ibm.com',
];

/** In a configured list, stands for DEFAULT_PROVIDER_HOSTS (so a host can be added to them). */
const DEFAULT_WORD = 'default';

const DNS_NAME = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/;

interface HostPattern {
  /** `*.suffix`: any host ending in ".suffix" (one or more labels before it), never an IP address. */
  suffix?: string;
  /** An exact host name or IP address (IPv6 in brackets, as URL.hostname has it). */
  host?: string;
  /** Only this port; any port when absent. */
  port?: number;
}

/**
 * Host patterns: `name`, `*.domain` (subdomains of domain, not domain
 * itself), `1.2.3.4`, `[::1]`, each with an optional `:port` (without one,
 * any port). An IP address matches only a pattern naming it exactly.
 */
export class HostAllowList {
  private readonly patterns: HostPattern[];
  /** The list as configured, for logs and messages. */
  readonly entries: readonly string[];

  constructor(entries: readonly string[]) {
    this.entries = entries.flatMap((e) => (e.trim().toLowerCase() === DEFAULT_WORD ? DEFAULT_PROVIDER_HOSTS : [e.trim()])).filter(Boolean);
    this.patterns = this.entries.map(parsePattern);
  }

  /** Whether crk-wrapping may send requests to this URL's host and port. */
  allows(u: URL): boolean {
    const host = u.hostname;
    const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
    const ip = isIpHost(host);
    if (!ip && !DNS_NAME.test(host)) return false;
    return this.patterns.some((p) => (p.port === undefined || p.port === port)
      && (p.suffix !== undefined ? !ip && host.endsWith(`.${p.suffix}`) : p.host === host));
  }

  /**
   * Refuses a URL whose host is not listed; `what` names the field. Runs
   * before any credential is resolved, so a refused host never sees one.
   */
  check(u: URL, what: string): void {
    if (this.allows(u)) return;
    const ip = isIpHost(u.hostname) ? '; an IP address is allowed only when listed exactly' : '';
    throw badRequest(`${what} host ${u.host} is not an allowed provider host${ip}: an operator adds it to WRAPPING_PROVIDER_HOSTS of crk-wrapping (docs/crk-wrapping.md)`);
  }
}

function isIpHost(host: string): boolean {
  return host.startsWith('[') || net.isIP(host) !== 0;
}

/** Parses one configured pattern; throws on anything it would not match as written. */
function parsePattern(text: string): HostPattern {
  const m = /^(\*\.)?(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/i.exec(text);
  const bad = () => new Error(`provider host pattern "${text}": expected host[:port], *.domain[:port], an IPv4 address or [IPv6] address`);
  if (!m) throw bad();
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) throw bad();
  let host = m[2].toLowerCase();
  if (host.startsWith('[')) {
    if (m[1] || net.isIPv6(host.slice(1, -1)) === false) throw bad();
    host = new URL(`http://${host}/`).hostname; // canonical form, as URL.hostname gives it
    return { host, port };
  }
  if (net.isIPv4(host)) {
    if (m[1]) throw bad();
    return { host, port };
  }
  // A wildcard needs a domain of at least two labels: "*.com" would allow half the internet.
  // Digits and dots that are no IPv4 address ("127.1") would never match: URL writes them as one.
  if (!DNS_NAME.test(host) || /^[0-9.]+$/.test(host) || (m[1] && !host.includes('.'))) throw bad();
  return m[1] ? { suffix: host, port } : { host, port };
}
