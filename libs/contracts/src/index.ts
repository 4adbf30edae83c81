export * from './ids';
export * from './scope';
export * from './events';
export * from './errors';
export * from './patterns';
export * from './messages';
