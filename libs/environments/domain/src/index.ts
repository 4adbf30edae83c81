export * as apiKeys from './api-key.decider';
export * as projects from './project.decider';
export * as users from './user.decider';
export { apiKeyDecider, keyPrefix } from './api-key.decider';
export { ownerRuleDenial, projectDecider } from './project.decider';
export { userDecider } from './user.decider';
export * from './secrets';
export * from './config-specs';
export {
  type CloneSource,
  type ConfigCommand,
  configDecider,
  type ConfigEvent,
  type ConfigEventType,
  type ConfigResource,
  type ConfigState,
  type ConfigStateDiff,
  diffConfig,
  type EnvironmentConfigEvent,
  isEmptyDiff,
  type KindDiff,
} from './config.decider';
export * from './clone';
export { SESSION_LIFETIME_MS, sessionDecider } from './session.decider';
export { limitsDecider } from './limits.decider';
export { datasetRowDecider, type RowValue, validateMetadata, validateRow } from './dataset-row.decider';
