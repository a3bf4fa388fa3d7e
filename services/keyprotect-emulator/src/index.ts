export { startEmulator } from './emulator';
export type { Emulator, EmulatorFaults, EmulatorOptions, SeedOptions } from './emulator';
export type { Corruption, Faults } from './faults';
export type { Dialect, Limits } from './api';
export { ALIASES_PER_INSTANCE, IBM_LIMITS, SEARCH_VOLUME } from './api';
