/**
 * Request/reply subjects between services (NATS request/reply in the distributed profile, the
 * in-process transport in the local one). One table, so sender and handler cannot disagree.
 */
export const PATTERNS = {
  environments: {
    verifyApiKey: 'environments.api_keys.verify',
    bootstrapDemo: 'environments.demo.bootstrap',
    health: 'environments.health',
    login: 'environments.sessions.create',
    verifySession: 'environments.sessions.verify',
    logout: 'environments.sessions.end',
    listMembers: 'environments.members.list',
    addMember: 'environments.members.add',
    updateMember: 'environments.members.update',
    removeMember: 'environments.members.remove',
    mintApiKey: 'environments.api_keys.create',
    listApiKeys: 'environments.api_keys.list',
    revokeApiKey: 'environments.api_keys.revoke',
    createConfig: 'environments.config.create',
    listConfig: 'environments.config.list',
    getConfig: 'environments.config.get',
    updateConfig: 'environments.config.update',
    deleteConfig: 'environments.config.delete',
    /** For the schedules service: a schedule's `process` by name, with its DeliveryPolicy. */
    getProcessByName: 'environments.processes.get_by_name',
    /** For the schedules service: schedule `metadata` against the environment's field definitions. */
    validateMetadata: 'environments.fields.validate_metadata',
    createDatasetRow: 'environments.datasets.rows.create',
    listDatasetRows: 'environments.datasets.rows.list',
    clone: 'environments.clone',
    /** For the gateway's rate limiter and the quota checks of the schedules service and dispatcher. */
    getLimits: 'environments.limits.get',
    updateLimits: 'environments.limits.update',
  },
  schedules: {
    create: 'schedules.create',
    get: 'schedules.get',
    list: 'schedules.list',
    pause: 'schedules.pause',
    resume: 'schedules.resume',
    cancel: 'schedules.cancel',
    upcoming: 'schedules.upcoming',
    health: 'schedules.health',
  },
  dispatcher: {
    listDeliveries: 'dispatcher.deliveries.list',
    getDelivery: 'dispatcher.deliveries.get',
    replayDelivery: 'dispatcher.deliveries.replay',
    /** For the deliveries-per-day quota: deliveries of the scope created since 00:00 UTC. */
    countDeliveriesToday: 'dispatcher.deliveries.count_today',
    listDeadLetters: 'dispatcher.dead_letters.list',
    getSigningSecret: 'dispatcher.signing_secret.get',
    rotateSigningSecret: 'dispatcher.signing_secret.rotate',
    getSlo: 'dispatcher.slo.get',
    health: 'dispatcher.health',
  },
  webhooks: {
    createEndpoint: 'webhooks.endpoints.create',
    listEndpoints: 'webhooks.endpoints.list',
    getEndpoint: 'webhooks.endpoints.get',
    updateEndpoint: 'webhooks.endpoints.update',
    deleteEndpoint: 'webhooks.endpoints.delete',
    rotateEndpointSecret: 'webhooks.endpoints.rotate_secret',
    health: 'webhooks.health',
  },
} as const;
