import * as path from 'node:path';

/** SPEC §1 runtime profiles. */
export type Profile = 'local' | 'distributed';

/** The one typed configuration, read from the environment once at start and validated. */
export interface PlatformConfig {
  readonly profile: Profile;
  readonly port: number;
  readonly host: string;
  /** PostgreSQL for read models (and the event store unless eventStoreUrl is set). */
  readonly databaseUrl: string | null;
  readonly natsUrl: string;
  /** KurrentDB/EventStoreDB connection string; the PostgreSQL event store when null. */
  readonly eventStoreUrl: string | null;
  /** Data folder of the local profile (embedded PostgreSQL, credentials.json). */
  readonly home: string;
  /** SPEC §4 outbound safety: the local profile may call loopback so the demo works. */
  readonly allowLoopbackTargets: boolean;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** JetStream stream and subject prefix of the events (SPEC §1: `events.<project>.<env>.<type>`). */
  readonly eventsStream: string;
  readonly eventsSubjectPrefix: string;
  readonly version: string;
}

export class ConfigError extends Error {}

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
    host: env.HOST || '0.0.0.0',
    databaseUrl,
    natsUrl: env.NATS_URL || 'nats://127.0.0.1:4222',
    eventStoreUrl: env.EVENTSTORE_URL || null,
    home: path.resolve(env.SCHEDSTACK_HOME || '.schedstack'),
    allowLoopbackTargets: allowLoopback === 'true' || allowLoopback === '1',
    logLevel: level,
    eventsStream: env.SCHEDSTACK_EVENTS_STREAM || 'SCHEDSTACK_EVENTS',
    eventsSubjectPrefix: env.SCHEDSTACK_EVENTS_PREFIX || 'events',
    version: packageVersion(),
  };
}

function packageVersion(): string {
  try {
    return (require(path.join(process.cwd(), 'package.json')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

export const PLATFORM_CONFIG = Symbol('PLATFORM_CONFIG');
