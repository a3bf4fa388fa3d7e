export * from './types';
export * from './errors';
export * from './decode';
export * from './encode';
export * from './frame';
export * from './hex';
