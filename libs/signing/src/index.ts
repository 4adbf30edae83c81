export * from './signing-secret';
export * from './signatures';
export * from './secret-box';
