export * from './ttlv';
export * from './generated';
export * from './messages';
export * from './samples';
export * from './dump';
