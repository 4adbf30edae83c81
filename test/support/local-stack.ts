import type { DemoCredentials, Environment } from '@schedstack/contracts';
import { loadConfig } from '@schedstack/platform';
import { startLocalApp } from '@schedstack/runtime';
import { createTestDatabase } from '@schedstack/testing';

export interface TestStack {
  readonly url: string;
  readonly projectId: string;
  readonly keys: Readonly<Record<Environment, string>>;
  /** fetch against the gateway with a key's bearer header. */
  api(path: string, init?: { method?: string; key?: string; body?: unknown; headers?: Record<string, string> }): Promise<{
    status: number;
    headers: Headers;
    body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  }>;
  close(): Promise<void>;
}

/**
 * Boots the whole local profile (all five services, in-process bus) on a free port against a fresh
 * database, with the demo project and keys — the one harness every end-to-end suite uses.
 */
export async function startLocalStack(label = 'e2e'): Promise<TestStack> {
  const db = await createTestDatabase(label);
  const config = { ...loadConfig('local', { ...process.env, PORT: '0', HOST: '127.0.0.1' }), databaseUrl: db.url };
  const local = await startLocalApp(config, db.url, { logger: false });
  let demo: DemoCredentials;
  try {
    demo = await local.bootstrapDemo();
  } catch (error) {
    await local.close();
    await db.drop();
    throw error;
  }
  return withApi(local.url, demo.project_id, demo.keys as Record<Environment, string>, async () => {
    await local.close();
    await db.drop();
  });
}

export function withApi(url: string, projectId: string, keys: Record<Environment, string>, close: () => Promise<void>): TestStack {
  return {
    url,
    projectId,
    keys,
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
