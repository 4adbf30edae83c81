export * from './infra';
export * from './receiver';
export * from './harness';
export * from './distributed';
