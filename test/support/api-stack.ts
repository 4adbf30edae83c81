import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { type Environment, ENVIRONMENTS, newId, type Scope, streamName } from '@schedstack/contracts';
import { hashApiKeySecret, keyPrefix, newApiKeySecret } from '@schedstack/environments-domain';
import { EVENT_STORE, type EventStore } from '@schedstack/event-store';
import { loadConfig } from '@schedstack/platform';
import { type LocalApp, startLocalApp } from '@schedstack/runtime';
import { createTestDatabase } from '@schedstack/testing';
import { eventually } from './eventually';
import { liftRateLimits, type TestStack, withApi } from './local-stack';

/** The local profile for the public API suites, with what they need beyond HTTP. */
export interface ApiStack extends TestStack {
  /** The running Nest application (its HTTP router lists the routes the gateway registers). */
  readonly app: INestApplication;
  /** The stack's own database, for what no API shows (the gateway's idempotency records). */
  readonly databaseUrl: string;
  /** Mints keys of a second project in the same database, for cross-project isolation. */
  otherProject(): Promise<{ projectId: string; keys: Record<Environment, string> }>;
  /** Stops the app (not the database) for `downMs`, then starts a fresh one on the same data: downtime. */
  restart(downMs: number): Promise<void>;
}

export async function startApiStack(label: string): Promise<ApiStack> {
  const db = await createTestDatabase(label);
  const config = { ...loadConfig('local', { ...process.env, PORT: '0', HOST: '127.0.0.1' }), databaseUrl: db.url };
  let local: LocalApp = await startLocalApp(config, db.url, { logger: false });
  const demo = await local.bootstrapDemo();
  // The suites send bursts (a table of bad requests, 20 concurrent duplicates): not a rate-limit test.
  await liftRateLimits(local.bus, demo.project_id);
  const keys = demo.keys as Record<Environment, string>;
  const store = () => local.app.get<typeof EVENT_STORE, EventStore>(EVENT_STORE, { strict: false });
  const api = () => withApi(local.url, demo.project_id, keys, async () => undefined);
  return {
    ...api(),
    get url() {
      return local.url;
    },
    get app() {
      return local.app;
    },
    databaseUrl: db.url,
    api: (path, init) => api().api(path, init),
    async otherProject() {
      const projectId = newId('prj');
      const minted = {} as Record<Environment, string>;
      for (const environment of ENVIRONMENTS) minted[environment] = await mintKey(store(), { projectId, environment });
      await liftRateLimits(local.bus, projectId);
      // The key works once the environments read model has it.
      await eventually(async () => (await api().api('/v1/schedules', { key: minted.test })).status === 200);
      return { projectId, keys: minted };
    },
    async restart(downMs) {
      await local.close();
      await new Promise((resolve) => setTimeout(resolve, downMs));
      local = await startLocalApp({ ...config, port: 0 }, db.url, { logger: false });
    },
    async close() {
      await local.close();
      await db.drop();
    },
  };
}

/** Appends an `api_key.created` exactly as the environments service does, and returns the secret. */
async function mintKey(store: EventStore, scope: Scope): Promise<string> {
  const keyId = newId('key');
  const secret = newApiKeySecret(scope.environment);
  await store.appendToStream(
    streamName(scope, 'api_key', keyId),
    [
      {
        id: randomUUID(),
        type: 'api_key.created',
        data: {
          key_id: keyId,
          name: 'isolation test',
          secret_hash: hashApiKeySecret(secret),
          prefix: keyPrefix(scope.environment),
          last4: secret.slice(-4),
          created_at: new Date().toISOString(),
        },
      },
    ],
    'no_stream',
  );
  return secret;
}
