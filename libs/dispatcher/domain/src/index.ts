export * from './retry-policy';
export * from './rate-limiter';
export * from './circuit-breaker';
export {
  activeSecrets,
  ROTATION_OVERLAP_MS,
  signingSecretDecider,
  type SigningSecretCommand,
  type SigningSecretEvent,
  type SigningSecretState,
} from './signing-secret.decider';
export { deliveryDecider, type DeliveryAggregateState, type DeliveryCommand, type DeliveryEvent } from './delivery.decider';
export * from './slo';
