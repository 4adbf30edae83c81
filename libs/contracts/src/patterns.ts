/**
 * Request/reply subjects between services (NATS request/reply in the distributed profile, the
 * in-process transport in the local one). One table, so sender and handler cannot disagree.
 */
export const PATTERNS = {
  environments: {
    verifyApiKey: 'environments.api_keys.verify',
    bootstrapDemo: 'environments.demo.bootstrap',
    health: 'environments.health',
  },
  schedules: {
    create: 'schedules.create',
    get: 'schedules.get',
    list: 'schedules.list',
    health: 'schedules.health',
  },
  dispatcher: {
    listDeliveries: 'dispatcher.deliveries.list',
    getDelivery: 'dispatcher.deliveries.get',
    health: 'dispatcher.health',
  },
  webhooks: {
    health: 'webhooks.health',
  },
} as const;
