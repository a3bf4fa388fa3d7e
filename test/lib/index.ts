export * from './redis';
export * from './kmip-client';
export * from './stack';
