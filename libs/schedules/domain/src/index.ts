export * from './schedule.decider';
export * from './schedule-input';
