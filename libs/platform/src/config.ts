import { ConfigError } from '@schedstack/contracts';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';

/** SPEC §1 runtime profiles. */
export type Profile = 'local' | 'distributed';

/** The one typed configuration, read from the environment once at start and validated. */
export interface PlatformConfig {
  readonly profile: Profile;
  readonly port: number;
  readonly host: string;
  /** Prometheus port of apps without an HTTP API (METRICS_PORT); null: not exposed. */
  readonly metricsPort: number | null;
  /** PostgreSQL for read models (and the event store unless eventStoreUrl is set). */
  readonly databaseUrl: string | null;
  readonly natsUrl: string;
  /** KurrentDB/EventStoreDB connection string; the PostgreSQL event store when null. */
  readonly eventStoreUrl: string | null;
  /** Data folder of the local profile (embedded PostgreSQL, credentials.json). */
  readonly home: string;
  /** SPEC §4 outbound safety: the local profile may call loopback so the demo works. */
  readonly allowLoopbackTargets: boolean;
  /**
   * SPEC §4 operator allowlist (SCHEDSTACK_OUTBOUND_ALLOWLIST, comma-separated CIDRs, addresses or
   * host names, `*.example.com` for subdomains); the dispatcher validates the entries at start.
   */
  readonly outboundAllowlist: readonly string[];
  /** Threads that time and send fires (SCHEDSTACK_DISPATCH_THREADS; 0: the main thread; docs/dispatcher.md). */
  readonly sendingThreads: number;
  /** Dispatcher timing: leases (SCHEDSTACK_DISPATCH_LEASE_MS), look-ahead and claim polling. */
  readonly dispatch: { readonly leaseMs: number; readonly lookAheadMs: number; readonly pollIntervalMs: number; readonly batchSize: number };
  /** 32 bytes, base64 (SCHEDSTACK_SECRETS_KEY): seals signing secrets at rest; null leaves them unsealed. */
  readonly secretsKey: string | null;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** JetStream stream and subject prefix of the events (SPEC §1: `events.<project>.<env>.<type>`). */
  readonly eventsStream: string;
  /** Prefix of every request/reply subject (SCHEDSTACK_BUS_PREFIX), to share a NATS server. */
  readonly busPrefix: string;
  readonly eventsSubjectPrefix: string;
  readonly version: string;
  /** SPEC §7 objective: p99 dispatch lag threshold (SCHEDSTACK_SLO_OBJECTIVE_MS, default 300). */
  readonly sloObjectiveMs: number;
}

// Defined with the other errors in contracts, so code that runs where the platform is not loaded
// (the dispatcher's sending threads build an outbound guard) can throw it too.
export { ConfigError };

function intFrom(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got '${raw}'`);
  }
  return value;
}

export function loadConfig(profile: Profile, env: NodeJS.ProcessEnv = process.env): PlatformConfig {
  const databaseUrl = env.DATABASE_URL || null;
  if (profile === 'distributed' && !databaseUrl) {
    throw new ConfigError('DATABASE_URL is required in the distributed profile (e.g. postgres://postgres@127.0.0.1:5432/schedstack)');
  }
  const level = (env.LOG_LEVEL ?? 'info') as PlatformConfig['logLevel'];
  if (!['debug', 'info', 'warn', 'error'].includes(level)) {
    throw new ConfigError(`LOG_LEVEL must be debug, info, warn or error, got '${level}'`);
  }
  const allowLoopback = env.SCHEDSTACK_ALLOW_LOOPBACK ?? (profile === 'local' ? 'true' : 'false');
  return {
    profile,
    port: intFrom(env, 'PORT', 3000, 0, 65535),
    metricsPort: env.METRICS_PORT ? intFrom(env, 'METRICS_PORT', 9464, 0, 65535) : null,
    host: env.HOST || '0.0.0.0',
    databaseUrl,
    natsUrl: env.NATS_URL || 'nats://127.0.0.1:4222',
    eventStoreUrl: env.EVENTSTORE_URL || null,
    home: path.resolve(env.SCHEDSTACK_HOME || '.schedstack'),
    allowLoopbackTargets: allowLoopback === 'true' || allowLoopback === '1',
    outboundAllowlist: (env.SCHEDSTACK_OUTBOUND_ALLOWLIST ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    sendingThreads: intFrom(env, 'SCHEDSTACK_DISPATCH_THREADS', Math.min(2, availableParallelism()), 0, 64),
    dispatch: {
      leaseMs: intFrom(env, 'SCHEDSTACK_DISPATCH_LEASE_MS', 30_000, 500, 3_600_000),
      lookAheadMs: intFrom(env, 'SCHEDSTACK_DISPATCH_LOOKAHEAD_MS', 1_000, 0, 600_000),
      pollIntervalMs: intFrom(env, 'SCHEDSTACK_DISPATCH_POLL_MS', 100, 10, 60_000),
      // Fires claimed per query; a full batch is followed at once by the next (bursts).
      batchSize: intFrom(env, 'SCHEDSTACK_DISPATCH_CLAIM_BATCH', 500, 1, 10_000),
    },
    secretsKey: secretsKeyFrom(env),
    logLevel: level,
    eventsStream: env.SCHEDSTACK_EVENTS_STREAM || 'SCHEDSTACK_EVENTS',
    busPrefix: env.SCHEDSTACK_BUS_PREFIX ?? '',
    eventsSubjectPrefix: env.SCHEDSTACK_EVENTS_PREFIX || 'events',
    version: packageVersion(),
    sloObjectiveMs: intFrom(env, 'SCHEDSTACK_SLO_OBJECTIVE_MS', 300, 1, 3_600_000),
  };
}

function secretsKeyFrom(env: NodeJS.ProcessEnv): string | null {
  const raw = env.SCHEDSTACK_SECRETS_KEY;
  if (!raw) return null;
  if (Buffer.from(raw, 'base64').length !== 32) {
    throw new ConfigError('SCHEDSTACK_SECRETS_KEY must be 32 random bytes in base64 (e.g. `openssl rand -base64 32`)');
  }
  return raw;
}

function packageVersion(): string {
  try {
    return (require(path.join(process.cwd(), 'package.json')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

export const PLATFORM_CONFIG = Symbol('PLATFORM_CONFIG');
