export * from './local-stack';
export * from './distributed-stack';
export * from './eventually';
export { freePort } from '@schedstack/testing';
export * from './dispatch-stack';
export * from './dispatcher-pair';
