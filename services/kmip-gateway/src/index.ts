export * from './backend';
export * from './convert';
export * from './dispatch';
export * from './errors';
export * from './server';
export { HANDLERS } from './operations';
