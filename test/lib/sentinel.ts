// A Redis master with replicas and Sentinels, for failover tests: the stack
// launcher's (libs/stack), which `npm start -- --ha` runs too. Throwaway:
// free ports, a temp directory, short down-after and failover timeouts.
export { startSentinelSet } from '@keywarden/stack';
export type { SentinelSetOptions, TestSentinelSet } from '@keywarden/stack';
