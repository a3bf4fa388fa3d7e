export * from './redis';
export * from './sentinel';
export * from './kmip-client';
export * from './stack';
export * from './cluster';
