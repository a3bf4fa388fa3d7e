import path from 'path';
import type { Logger } from '@keywarden/common';
import { wrappingV1 } from '@keywarden/proto';
import type { ResilienceConfig } from '../config';
import { badRequest } from '../errors';
import type { WrappingMetrics } from '../metrics';
import { Breaker } from '../resilience/breaker';
import { KpClient } from './keyprotect/client';
import { conventionMismatch, DEFAULT_IAM_ENDPOINT, normalizeEndpoint } from './keyprotect/endpoints';
import { HostAllowList } from './keyprotect/hosts';
import { HttpClient } from './keyprotect/http';
import { IamTokens } from './keyprotect/iam';
import { KeyProtectProvider } from './keyprotect/provider';
import { isOutage, Transport } from './keyprotect/transport';
import { isHsmOutage, Pkcs11Module } from './pkcs11/hsm';
import { Pkcs11Provider } from './pkcs11/provider';
import type { WrapProvider } from './types';

export interface RegistryOptions {
  resilience: ResilienceConfig;
  log: Logger;
  metrics?: WrappingMetrics;
  /** Plain http to non-loopback hosts (local stacks only). */
  allowHttp: boolean;
  /** Host patterns Key Protect, HPCS and IAM URLs must match (hosts.ts; e.g. DEFAULT_PROVIDER_HOSTS). */
  providerHosts: readonly string[];
  /** Extra CA (PEM) trusted for provider HTTPS, besides the system roots. */
  providerCa?: Buffer;
  /** PKCS#11 module paths that may be loaded (a request names one). */
  pkcs11Modules: string[];
  /** Sessions per HSM token. */
  pkcs11Sessions: number;
}

/** Default PKCS#11 modules: SoftHSM2 where Debian, Ubuntu and source builds put it. */
export const DEFAULT_PKCS11_MODULES = ['/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so', '/usr/local/lib/softhsm/libsofthsm2.so'];

const INSTANCE_ID = /^[A-Za-z0-9-]{1,64}$/;
/** Distinct Provider spellings remembered (spellings of one endpoint share its adapter). */
const MAX_FIELD_KEYS = 4096;

/**
 * Provider adapters by endpoint and instance, built on first use from the
 * Provider message of a call. Each has its own circuit breaker; IAM endpoints
 * have theirs, shared by every instance that uses them.
 */
export class ProviderRegistry {
  private readonly providers = new Map<string, WrapProvider>();
  /**
   * Adapters by the Provider fields exactly as given, so the endpoint URLs
   * are parsed and checked once per distinct Provider, not on every call.
   * Only fields that passed validation get here.
   */
  private readonly byFields = new Map<string, WrapProvider>();
  private readonly iamBreakers = new Map<string, Breaker>();
  private readonly modules = new Map<string, Pkcs11Module>();
  private readonly http: HttpClient;
  private readonly transport: Transport;
  private readonly iam: IamTokens;
  private readonly hosts: HostAllowList;

  constructor(private readonly o: RegistryOptions) {
    this.hosts = new HostAllowList(o.providerHosts);
    this.http = new HttpClient(o.providerCa);
    this.transport = new Transport(this.http, o.resilience, o.metrics);
    this.iam = new IamTokens(this.transport, (origin) => this.iamBreaker(origin), o.metrics);
  }

  get(p: wrappingV1.Provider | undefined): WrapProvider {
    if (!p) throw badRequest('provider is required');
    const fields = JSON.stringify([p.kind, p.endpoint, p.iamEndpoint, p.instanceId]);
    let provider = this.byFields.get(fields);
    if (!provider) {
      provider = this.resolve(p);
      if (this.byFields.size >= MAX_FIELD_KEYS) this.byFields.clear();
      this.byFields.set(fields, provider);
    }
    return provider;
  }

  private resolve(p: wrappingV1.Provider): WrapProvider {
    switch (p.kind) {
      case wrappingV1.ProviderKind.PROVIDER_KIND_KEYPROTECT:
        return this.keyProtect('keyprotect', p);
      case wrappingV1.ProviderKind.PROVIDER_KIND_HPCS:
        return this.keyProtect('hpcs', p);
      case wrappingV1.ProviderKind.PROVIDER_KIND_PKCS11:
        return this.pkcs11(p);
      default:
        throw badRequest('provider.kind must be KEYPROTECT, HPCS or PKCS11');
    }
  }

  /** Breaker states by name, for tests and diagnostics. */
  breakers(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const b of this.iamBreakers.values()) out[b.name] = b.state;
    for (const p of this.providers.values()) out[p.breaker.name] = p.breaker.state;
    return out;
  }

  close(): void {
    for (const p of this.providers.values()) p.close();
    for (const b of this.iamBreakers.values()) b.shutdown();
    for (const m of this.modules.values()) m.close();
    this.providers.clear();
    this.byFields.clear();
    this.iamBreakers.clear();
    this.modules.clear();
    this.http.close();
  }

  private keyProtect(kind: 'keyprotect' | 'hpcs', p: wrappingV1.Provider): WrapProvider {
    if (!p.endpoint) throw badRequest(`provider.endpoint is required for ${kind} (the key-management base URL)`);
    if (!INSTANCE_ID.test(p.instanceId)) throw badRequest('provider.instance_id must be the service instance GUID');
    const endpoint = this.endpoint(p.endpoint, 'provider.endpoint');
    const iamEndpoint = this.endpoint(p.iamEndpoint || DEFAULT_IAM_ENDPOINT, 'provider.iam_endpoint');
    const key = `${kind}\n${endpoint}\n${iamEndpoint}\n${p.instanceId}`;
    let provider = this.providers.get(key);
    if (!provider) {
      const note = conventionMismatch(kind, endpoint, p.instanceId);
      if (note) this.o.log.warn({ kind, endpoint, instance: p.instanceId }, note);
      const breaker = new Breaker(`${kind} ${new URL(endpoint).host} instance ${p.instanceId}`, this.o.resilience.breaker, isOutage, this.o.metrics);
      const client = new KpClient({ kind, endpoint, iamEndpoint, instance: p.instanceId }, breaker, this.transport, this.iam);
      provider = new KeyProtectProvider(client, this.o.resilience.retry);
      this.providers.set(key, provider);
    }
    return provider;
  }

  /** A checked base URL: well-formed, and its host on the allow-list (before any credential is resolved). */
  private endpoint(raw: string, what: string): string {
    const endpoint = normalizeEndpoint(raw, what, this.o.allowHttp);
    this.hosts.check(new URL(endpoint), what);
    return endpoint;
  }

  private pkcs11(p: wrappingV1.Provider): WrapProvider {
    const modulePath = p.endpoint;
    if (!modulePath || !path.isAbsolute(modulePath)) throw badRequest('provider.endpoint must be the absolute path of the PKCS#11 module');
    if (!this.o.pkcs11Modules.includes(modulePath)) {
      throw badRequest(`PKCS#11 module ${modulePath} is not allowed here; allowed: ${this.o.pkcs11Modules.join(', ') || 'none'} (WRAPPING_PKCS11_MODULES)`);
    }
    if (!p.instanceId) throw badRequest('provider.instance_id must be the HSM token label');
    const key = `pkcs11\n${modulePath}\n${p.instanceId}`;
    let provider = this.providers.get(key);
    if (!provider) {
      let mod = this.modules.get(modulePath);
      if (!mod) {
        mod = new Pkcs11Module(modulePath, this.o.pkcs11Sessions);
        this.modules.set(modulePath, mod);
      }
      const breaker = new Breaker(`pkcs11 ${path.basename(modulePath)} token ${p.instanceId}`, this.o.resilience.breaker, isHsmOutage, this.o.metrics);
      provider = new Pkcs11Provider(mod, p.instanceId, breaker, this.o.resilience.callTimeoutMs);
      this.providers.set(key, provider);
    }
    return provider;
  }

  private iamBreaker(origin: string): Breaker {
    let b = this.iamBreakers.get(origin);
    if (!b) {
      b = new Breaker(`iam ${new URL(origin).host}`, this.o.resilience.breaker, isOutage, this.o.metrics);
      this.iamBreakers.set(origin, b);
    }
    return b;
  }
}
