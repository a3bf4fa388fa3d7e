export * from './backend';
export * from './convert';
export * from './dispatch';
export * from './errors';
export * from './server';
export { OPERATIONS, defineOperation, operationTable } from './operations';
export type { GatewayOperation, OpContext, OperationDefinition } from './operations';
