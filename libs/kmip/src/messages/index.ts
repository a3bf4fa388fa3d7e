export * from './version';
export * from './struct';
export * from './attributes';
export * from './objects';
export * from './operations';
export * from './message';
export * from './version-check';
