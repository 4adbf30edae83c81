export * from './dispatcher-service.module';
export * from './http-sender';
export * from './outbound-guard';
export { DISPATCH_LAG_METRIC, isSloEligible } from './dispatch-lag.metric';
export * from './launcher';
export { ThreadedLaunchPad, LAUNCH_PAD } from './threaded-launch-pad';
