export { startCrkWrapping } from './server';
export type { CrkWrapping, CrkWrappingOptions } from './server';
export { DEFAULT_RESILIENCE, resilienceFromEnv } from './config';
export type { BreakerConfig, ResilienceConfig, RetryConfig } from './config';
export { REASON_METADATA, reasonOf, WrappingError } from './errors';
export type { Reason } from './errors';
export { hpcsEndpoint, keyProtectEndpoint, DEFAULT_IAM_ENDPOINT } from './providers/keyprotect/endpoints';
export { DEFAULT_PROVIDER_HOSTS } from './providers/keyprotect/hosts';
export { standardKeyName } from './providers/keyprotect/provider';
export { decodeRef, encodeRef, RefKind } from './sealed-ref';
export type { SealedRef } from './sealed-ref';
// In-process provider access (benchmarks, tools): the same adapters the service uses.
export { ProviderRegistry, DEFAULT_PKCS11_MODULES } from './providers/registry';
export type { RegistryOptions } from './providers/registry';
export type { CallContext, KeyContext, WrapProvider } from './providers/types';
export { WrappingMetrics } from './metrics';
