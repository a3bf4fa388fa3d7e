export { startEmulator } from './emulator';
export type { Emulator, EmulatorFaults, EmulatorOptions } from './emulator';
export type { Faults } from './faults';
export type { Limits } from './api';
