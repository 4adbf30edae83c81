export * as apiKeys from './api-key.decider';
export * as projects from './project.decider';
export * as users from './user.decider';
export { apiKeyDecider, keyPrefix } from './api-key.decider';
export { projectDecider } from './project.decider';
export { userDecider } from './user.decider';
export * from './secrets';
