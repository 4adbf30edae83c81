export * from './local-stack';
export * from './distributed-stack';
export * from './eventually';
export * from './dispatch-stack';
