import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startReceiver } from '@schedstack/testing';
import { Client } from 'pg';
import { freePort } from '../support';

const ROOT = path.resolve(__dirname, '..', '..');
// A plain CommonJS tool shared with the launchers and the bench.
const { PRODUCT_NODE_FLAGS } = require('../../tools/node-flags') as { PRODUCT_NODE_FLAGS: string[] };

interface Started {
  child: ChildProcess;
  output: () => string;
}

/** Every product started, so a failed test still stops it (and its PostgreSQL) instead of hanging jest. */
const started: ChildProcess[] = [];

async function stopLeftovers(): Promise<void> {
  const running = started.filter((child) => child.exitCode === null && child.signalCode === null);
  await Promise.all(running.map((child) => new Promise((resolve) => (child.once('exit', resolve), child.kill('SIGTERM')))));
}

/** Runs what `npm start` runs after its build step, with its own data folder and port. */
async function startProduct(home: string, port: number): Promise<Started> {
  const env: NodeJS.ProcessEnv = { ...process.env, SCHEDSTACK_HOME: home, PORT: String(port) };
  delete env.DATABASE_URL; // the local profile brings its own embedded PostgreSQL
  const child = spawn(process.execPath, [...PRODUCT_NODE_FLAGS, '-r', './tools/register-paths.js', 'dist/apps/schedstack/src/main.js'], { cwd: ROOT, env });
  started.push(child);
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const deadline = Date.now() + 90_000;
  while (!output.includes('SchedStack is ready')) {
    if (child.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
    if (Date.now() > deadline) throw new Error(`no ready banner within 90 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, output: () => output };
}

/** SIGTERM, then the exit code and the last lines printed (shown when the code is not 0). */
async function stop(started: Started): Promise<{ code: number | null; tail: string }> {
  const exited = new Promise<number | null>((resolve) => started.child.once('exit', (code) => resolve(code)));
  started.child.kill('SIGTERM');
  const code = await exited;
  return { code, tail: code === 0 ? '' : started.output().slice(-3000) };
}

/** The product's connections to its embedded PostgreSQL, by kind, asked through the socket in `socketDir`. */
async function productConnections(socketDir: string): Promise<{ socket: number; tcp: number }> {
  const socket = fs.readdirSync(socketDir).find((name) => /^\.s\.PGSQL\.\d+$/.test(name));
  if (!socket) throw new Error(`no PostgreSQL socket in ${socketDir}: ${fs.readdirSync(socketDir).join(', ')}`);
  const client = new Client({ host: socketDir, port: Number(socket.split('.').pop()), user: 'schedstack', password: 'schedstack', database: 'schedstack' });
  await client.connect();
  try {
    const { rows } = await client.query<{ socket: number; tcp: number }>(
      `SELECT count(*) FILTER (WHERE client_addr IS NULL)::int AS socket, count(*) FILTER (WHERE client_addr IS NOT NULL)::int AS tcp
         FROM pg_stat_activity WHERE datname = 'schedstack' AND backend_type = 'client backend' AND pid <> pg_backend_pid()`,
    );
    return rows[0];
  } finally {
    await client.end();
  }
}

function postgresProcessesFor(dataDir: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', `postgres -D ${dataDir}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

describe('the V8 flags of every process (docs/decisions.md)', () => {
  it('are the same for npm start, the image and tools/node-flags.js (which the distributed launcher and the bench use)', () => {
    const start = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.start as string;
    const dockerfile = fs.readFileSync(path.join(ROOT, 'deploy', 'Dockerfile'), 'utf8');
    expect(PRODUCT_NODE_FLAGS.length).toBeGreaterThan(0);
    expect(start).toContain(`node ${PRODUCT_NODE_FLAGS.join(' ')} -r ./tools/register-paths.js`);
    expect(dockerfile).toContain(`exec node ${PRODUCT_NODE_FLAGS.join(' ')} -r ./tools/register-paths.js dist/apps/\${APP}/src/main.js`);
  });
});

describe('the local profile (what `npm start` runs)', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'schedstack-home-'));

  afterAll(async () => {
    await stopLeftovers(); // before its data folder goes
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('starts with embedded PostgreSQL, prints and saves demo credentials, fires a schedule, stops cleanly, and reuses its data', async () => {
    const receiver = await startReceiver();
    const port = await freePort();
    try {
      const first = await startProduct(home, port);
      expect(first.output()).toContain(`http://localhost:${port}`);
      const credentials = JSON.parse(fs.readFileSync(path.join(home, 'credentials.json'), 'utf8'));
      expect(credentials).toEqual({
        project_id: expect.stringMatching(/^prj_/),
        owner: { email: expect.stringContaining('@'), password: expect.any(String) },
        keys: {
          live: expect.stringMatching(/^sk_live_/),
          sandbox: expect.stringMatching(/^sk_sandbox_/),
          test: expect.stringMatching(/^sk_test_/),
        },
      });
      for (const key of Object.values(credentials.keys) as string[]) expect(first.output()).toContain(key);

      // The live key works, and loopback targets are allowed in this profile so the demo works.
      const created = await fetch(`http://127.0.0.1:${port}/v1/schedules`, {
        method: 'POST',
        headers: { authorization: `Bearer ${credentials.keys.live}`, 'content-type': 'application/json' },
        body: JSON.stringify({ endpoint: `${receiver.url}/demo`, delay: '1s', body: 'hello' }),
      });
      expect(created.status).toBe(201);
      const schedule = (await created.json()) as { id: string };
      const [arrived] = await receiver.waitFor(1, 20_000);
      expect(arrived.body).toBe('hello');
      expect(arrived.headers['sched-mode']).toBe('live');

      // The product talks to its PostgreSQL through the server's socket in <home>/run, not over TCP.
      const connections = await productConnections(path.join(home, 'run'));
      expect(connections.tcp).toBe(0);
      expect(connections.socket).toBeGreaterThan(0);

      expect(await stop(first)).toEqual({ code: 0, tail: '' });
      expect(first.output()).toContain('Stopped cleanly');
      expect(postgresProcessesFor(path.join(home, 'postgres'))).toEqual([]);

      // Second start: same data, same credentials, the schedule is still there.
      const second = await startProduct(home, port);
      expect(second.output()).toContain(credentials.keys.test);
      const again = await fetch(`http://127.0.0.1:${port}/v1/schedules/${schedule.id}`, {
        headers: { authorization: `Bearer ${credentials.keys.live}` },
      });
      expect(again.status).toBe(200);
      expect(((await again.json()) as { id: string }).id).toBe(schedule.id);
      expect(await stop(second)).toEqual({ code: 0, tail: '' });
      expect(postgresProcessesFor(path.join(home, 'postgres'))).toEqual([]);
    } finally {
      await receiver.close();
    }
  }, 240_000);

  it('connects over TCP when the data folder is too deep for a Unix socket path (which PostgreSQL would refuse to start with)', async () => {
    const deep = path.join(home, 'a-data-folder-whose-path-is-longer-than-a-unix-socket-path-may-be', 'x'.repeat(40));
    expect(Buffer.byteLength(path.join(deep, 'run', '.s.PGSQL.65535'))).toBeGreaterThan(107);
    const port = await freePort();
    const product = await startProduct(deep, port);
    const credentials = JSON.parse(fs.readFileSync(path.join(deep, 'credentials.json'), 'utf8'));
    const created = await fetch(`http://127.0.0.1:${port}/v1/schedules`, {
      method: 'POST',
      headers: { authorization: `Bearer ${credentials.keys.test}`, 'content-type': 'application/json' },
      body: JSON.stringify({ endpoint: 'https://example.com/hook', delay: '1h' }),
    });
    expect(created.status).toBe(201);
    expect(fs.existsSync(path.join(deep, 'run'))).toBe(false);
    expect(await stop(product)).toEqual({ code: 0, tail: '' });
  }, 240_000);
});
