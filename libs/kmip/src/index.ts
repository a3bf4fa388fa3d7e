export * from './ttlv';
export * from './generated';
export * from './errors';
export * from './reasons';
export * from './messages';
export * from './samples';
export * from './dump';
