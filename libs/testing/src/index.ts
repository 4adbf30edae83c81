export * from './infra';
export { freePort } from '@schedstack/contracts';
export * from './eventually';
export * from './receiver';
export * from './nats-server';
