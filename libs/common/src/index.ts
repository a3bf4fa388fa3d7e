export * from './config';
export * from './log';
export * from './metrics';
export * from './grpc';
export * from './tls';
export * from './pki';
export * from './timeout';
