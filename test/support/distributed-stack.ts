import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { type DemoCredentials, type Environment, PATTERNS } from '@schedstack/contracts';
import { createBusClient } from '@schedstack/messaging';
import { request } from '@schedstack/platform';
import { connect } from 'nats';
import { adminDatabaseUrl, createTestDatabase, freePort, natsUrl } from '@schedstack/testing';
import { Client } from 'pg';
import { liftRateLimits, type StackOptions, type TestStack, withApi } from './local-stack';

export const APPS = ['environments', 'schedules', 'dispatcher', 'webhooks', 'gateway'] as const;
export type AppName = (typeof APPS)[number];

const ROOT = path.resolve(__dirname, '..', '..');

export interface DistributedStackOptions extends StackOptions {
  /**
   * For suites that saturate the machine on purpose (a burst of thousands of fires through two
   * dispatchers): no other such suite runs beside it. Two of them at once on a 2-core machine
   * stall event loops for longer than the short leases these suites use, which turns their
   * "sent once" checks into a measure of the machine instead of the product.
   */
  readonly exclusive?: boolean;
}

/** Below the 300 s the exclusive suites give their beforeAll: a suite that cannot get the machine fails, it does not hang. */
const MACHINE_LOCK_WAIT_MS = 240_000;

/** Held for the life of an exclusive stack: a session advisory lock, shared by every jest worker through PostgreSQL. */
async function lockMachine(): Promise<() => Promise<void>> {
  const client = new Client({ connectionString: adminDatabaseUrl() });
  // Losing the connection releases the lock; the suite's own checks then meet whatever runs beside it.
  client.on('error', (error) => console.warn(`the machine lock's connection failed: ${error.message}`));
  await client.connect();
  const deadline = Date.now() + MACHINE_LOCK_WAIT_MS;
  for (;;) {
    const { rows } = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(hashtext('schedstack-tests:machine-saturating-suite')) AS locked`);
    if (rows[0].locked) return () => client.end().catch(() => undefined);
    if (Date.now() > deadline) {
      await client.end().catch(() => undefined);
      throw new Error(`another machine-saturating suite held the machine for ${MACHINE_LOCK_WAIT_MS / 1000} s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

export interface AppProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly output: string[];
}

export interface DistributedStack extends TestStack {
  readonly processes: AppProcess[];
  /** Environment every app of this stack runs with (to start more replicas). */
  readonly env: NodeJS.ProcessEnv;
  startApp(app: AppName, extraEnv?: NodeJS.ProcessEnv): AppProcess;
}

/** Starts one compiled app (`npm run build` first) as a child process. */
export function spawnApp(app: AppName, env: NodeJS.ProcessEnv, label: string = app): AppProcess {
  const main = path.join(ROOT, 'dist', 'apps', app, 'src', 'main.js');
  if (!fs.existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` (npm test does) before the distributed suites`);
  const child = spawn(process.execPath, ['-r', path.join(ROOT, 'tools', 'register-paths.js'), main], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 500) output.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { name: label, child, output };
}

async function waitReady(url: string, processes: AppProcess[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const dead = processes.find((p) => p.child.exitCode !== null);
    if (dead) throw new Error(`${dead.name} exited during start:\n${dead.output.join('')}`);
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the distributed stack was not ready within ${timeoutMs} ms:\n${processes.map((p) => `--- ${p.name}\n${p.output.join('')}`).join('\n')}`);
}

async function stopProcess(p: AppProcess): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => p.child.once('exit', () => resolve()));
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * The distributed profile for a suite: each of the five apps its own process, real NATS and
 * PostgreSQL, a fresh database and a JetStream stream of its own so suites never see each other's events.
 * `extraEnv` is added to every app's environment (e.g. a short dispatcher lease); a `NATS_URL` in it
 * points the whole stack, the harness's own connections included, at another NATS server.
 */
export async function startDistributedStack(label = 'dist', extraEnv: NodeJS.ProcessEnv = {}, options: DistributedStackOptions = {}): Promise<DistributedStack> {
  const unlock = options.exclusive ? await lockMachine() : async () => undefined;
  const db = await createTestDatabase(label).catch(async (error) => {
    await unlock();
    throw error;
  });
  const suffix = randomBytes(4).toString('hex');
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: db.url,
    NATS_URL: natsUrl(),
    PORT: String(port),
    HOST: '127.0.0.1',
    SCHEDSTACK_EVENTS_STREAM: `TEST_EVENTS_${suffix}`,
    SCHEDSTACK_EVENTS_PREFIX: `events_${suffix}`,
    // Request/reply subjects of their own too: parallel stacks share the NATS server.
    SCHEDSTACK_BUS_PREFIX: `t${suffix}.`,
    SCHEDSTACK_ALLOW_LOOPBACK: 'true',
    LOG_LEVEL: 'warn',
    ...extraEnv,
  };
  const processes: AppProcess[] = [];
  const startApp = (app: AppName, extraEnv: NodeJS.ProcessEnv = {}) => {
    const p = spawnApp(app, { ...env, ...extraEnv }, `${app}#${processes.filter((x) => x.name.startsWith(app)).length + 1}`);
    processes.push(p);
    return p;
  };
  const url = `http://127.0.0.1:${port}`;
  const nats = env.NATS_URL as string;
  const teardown = async () => {
    await Promise.all(processes.map(stopProcess));
    // A suite that stopped its own NATS server has no stream left to delete.
    const nc = await connect({ servers: nats, timeout: 5_000 }).catch(() => null);
    await nc
      ?.jetstreamManager()
      .then((jsm) => jsm.streams.delete(env.SCHEDSTACK_EVENTS_STREAM as string))
      .catch(() => undefined);
    await nc?.close();
    await db.drop();
    await unlock();
  };
  try {
    // Services first (they create their tables), then the gateway.
    for (const app of APPS) startApp(app);
    await waitReady(url, processes);
    const bus = createBusClient('nats', nats, env.SCHEDSTACK_BUS_PREFIX);
    const demo = await request<DemoCredentials>(bus, PATTERNS.environments.bootstrapDemo, {}, 30_000)
      .then(async (created) => {
        if (!options.productRateLimits) await liftRateLimits(bus, created.project_id);
        return created;
      })
      .finally(() => bus.close());
    const stack = withApi(url, demo.project_id, demo.keys as Record<Environment, string>, teardown, demo.owner);
    return { ...stack, processes, env, startApp };
  } catch (error) {
    await teardown();
    // What the apps logged says why (e.g. the service behind a 500 during bootstrap).
    if (error instanceof Error) {
      error.message += `\n${processes.map((p) => `--- ${p.name}\n${p.output.slice(-30).join('')}`).join('\n')}`;
    }
    throw error;
  }
}
