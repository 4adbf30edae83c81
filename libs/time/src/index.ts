export * from './duration';
export * from './cron';
