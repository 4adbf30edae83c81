import type { ClientProxy } from '@nestjs/microservices';
import { type DemoCredentials, type Environment, ENVIRONMENTS, PATTERNS } from '@schedstack/contracts';
import { loadConfig, request } from '@schedstack/platform';
import { startLocalApp } from '@schedstack/runtime';
import { createTestDatabase } from '@schedstack/testing';

export interface TestStack {
  readonly url: string;
  readonly projectId: string;
  readonly keys: Readonly<Record<Environment, string>>;
  /** The demo project's owner login (for console sessions), when the stack created the project. */
  readonly owner?: { readonly email: string; readonly password: string };
  /** The local profile's in-process bus, for suites that exercise service-to-service patterns. */
  readonly bus?: ClientProxy;
  /** fetch against the gateway with a key's bearer header. */
  api(path: string, init?: { method?: string; key?: string; body?: unknown; headers?: Record<string, string> }): Promise<{
    status: number;
    headers: Headers;
    body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  }>;
  close(): Promise<void>;
}

export interface StackOptions {
  /**
   * Keep SPEC §5's default rate limits (10 requests/s per key in sandbox and test). Without it the
   * harness lifts them, so suites that poll or fire concurrent requests are not throttled.
   */
  readonly productRateLimits?: boolean;
}

/** Raises every environment's per-key rate limit of the project far beyond what a suite sends. */
export async function liftRateLimits(bus: ClientProxy, projectId: string): Promise<void> {
  for (const environment of ENVIRONMENTS) {
    await request(bus, PATTERNS.environments.updateLimits, { scope: { projectId, environment }, input: { requests_per_second: 100_000 } });
  }
}

/**
 * Boots the whole local profile (all five services, in-process bus) on a free port against a fresh
 * database, with the demo project and keys — the one harness every end-to-end suite uses.
 */
export async function startLocalStack(label = 'e2e', options: StackOptions = {}): Promise<TestStack> {
  const db = await createTestDatabase(label);
  const config = { ...loadConfig('local', { ...process.env, PORT: '0', HOST: '127.0.0.1' }), databaseUrl: db.url };
  const local = await startLocalApp(config, db.url, { logger: process.env.E2E_LOG ? ['error', 'warn'] : false });
  let demo: DemoCredentials;
  try {
    demo = await local.bootstrapDemo();
    if (!options.productRateLimits) await liftRateLimits(local.bus, demo.project_id);
  } catch (error) {
    await local.close();
    await db.drop();
    throw error;
  }
  const stack = withApi(
    local.url,
    demo.project_id,
    demo.keys as Record<Environment, string>,
    async () => {
      await local.close();
      await db.drop();
    },
    demo.owner,
  );
  return { ...stack, bus: local.bus };
}

export function withApi(
  url: string,
  projectId: string,
  keys: Record<Environment, string>,
  close: () => Promise<void>,
  owner?: DemoCredentials['owner'],
): TestStack {
  return {
    url,
    projectId,
    keys,
    ...(owner?.password ? { owner: { email: owner.email, password: owner.password } } : {}),
    async api(path, init = {}) {
      const headers: Record<string, string> = { ...(init.headers ?? {}) };
      if (init.key) headers.authorization = `Bearer ${init.key}`;
      let body: string | undefined;
      if (init.body !== undefined) {
        body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(`${url}${path}`, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // not JSON: keep the text
      }
      return { status: res.status, headers: res.headers, body: parsed };
    },
    close,
  };
}
