// Starts the product the way an operator does, for the benchmark: the local profile (one process,
// embedded PostgreSQL in a fresh data folder) or the distributed profile (the five apps and a second
// dispatcher as separate processes on this machine's NATS and PostgreSQL, in a fresh database and a
// JetStream stream of their own). Each returns the gateway URL, the demo credentials and the
// processes whose CPU the report shows.
const { spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { PRODUCT_NODE_FLAGS } = require('../tools/node-flags');
// The port picker the product and the tests use, loaded from its TypeScript source: a random free port below the kernel's
// range for outgoing connections, which a port from listen(0) is not — an outgoing connection can
// take such a port before the product binds it (EADDRINUSE).
require('../tools/register-ts');
const { freePort } = require('../libs/contracts/src/ports');

const root = path.join(__dirname, '..');

function spawnNode(script, env, name) {
  // BENCH_NODE_FLAGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof": profile the product's processes.
  const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...PRODUCT_NODE_FLAGS, ...flags, '-r', path.join(root, 'tools', 'register-paths.js'), path.join(root, script)], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = [];
  const keep = (chunk) => {
    if (process.env.BENCH_PRODUCT_LOG) fs.appendFileSync(process.env.BENCH_PRODUCT_LOG, chunk);
    output.push(chunk.toString());
    if (output.length > 200) output.shift();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return { name, child, output, pid: child.pid };
}

async function waitFor(check, what, processes, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const dead = processes.find((p) => p.child.exitCode !== null);
    if (dead) throw new Error(`${dead.name} exited while starting:\n${dead.output.join('')}`);
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} within ${timeoutMs / 1000} s:\n${processes.map((p) => `--- ${p.name}\n${p.output.join('')}`).join('\n')}`);
}

async function stopAll(processes) {
  await Promise.all(
    processes.map(
      (p) =>
        new Promise((resolve) => {
          if (p.child.exitCode !== null || p.child.signalCode !== null) return resolve();
          const timer = setTimeout(() => p.child.kill('SIGKILL'), 20_000);
          p.child.once('exit', () => (clearTimeout(timer), resolve()));
          p.child.kill('SIGTERM');
        }),
    ),
  );
}

/** The operator setting that lets the dispatcher reach the benchmark's receiver on 127.0.0.1. */
const LOOPBACK = { SCHEDSTACK_ALLOW_LOOPBACK: 'true' };

async function startLocal() {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'schedstack-bench-'));
  const port = await freePort();
  const env = { ...process.env, ...LOOPBACK, SCHEDSTACK_HOME: home, PORT: String(port), HOST: '127.0.0.1' };
  delete env.DATABASE_URL; // the local profile's own embedded PostgreSQL, as `npm start` runs it
  delete env.NATS_URL;
  const app = spawnNode('dist/apps/schedstack/src/main.js', env, 'schedstack');
  const credentialsFile = path.join(home, 'credentials.json');
  await waitFor(async () => fs.existsSync(credentialsFile) && app.output.join('').includes('localhost'), 'the local profile did not start', [app]);
  const credentials = JSON.parse(fs.readFileSync(credentialsFile, 'utf8'));
  const url = `http://127.0.0.1:${port}`;
  return {
    profile: 'local',
    url,
    keys: credentials.keys,
    owner: credentials.owner,
    metricsUrls: [`${url}/metrics`],
    /** node = the app's own CPU; postgres = its embedded server and backends (its children). */
    cpuSources: [
      { name: 'schedstack (node)', pid: app.pid, self: true },
      { name: 'postgres (embedded)', pid: app.pid, children: true },
    ],
    async stop() {
      await stopAll([app]);
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}

const APPS = ['environments', 'schedules', 'dispatcher', 'webhooks', 'gateway'];
const DISPATCHERS = 2;

/**
 * The distributed profile's dispatchers share this machine: each gets its share of the cores as
 * sending threads (one each for two dispatchers on two cores), as an operator would configure
 * co-located replicas; the default for a dispatcher alone (two) put four on two cores and raised
 * W1's tail (bench/README.md). SCHEDSTACK_DISPATCH_THREADS in the bench's environment wins.
 */
function sendingThreadsPerDispatcher(dispatchers = DISPATCHERS) {
  return Number(process.env.SCHEDSTACK_DISPATCH_THREADS ?? Math.max(1, Math.floor(os.availableParallelism() / dispatchers)));
}

async function startDistributed({ dispatchers = DISPATCHERS } = {}) {
  const { Client } = require('pg');
  const { connect, JSONCodec } = require('nats');
  const adminUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  const natsUrl = process.env.NATS_URL || 'nats://127.0.0.1:4222';
  const suffix = randomBytes(4).toString('hex');
  const database = `schedstack_bench_${suffix}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  const databaseUrl = new URL(adminUrl);
  databaseUrl.pathname = `/${database}`;

  const port = await freePort();
  const env = {
    ...process.env,
    ...LOOPBACK,
    DATABASE_URL: databaseUrl.toString(),
    NATS_URL: natsUrl,
    PORT: String(port),
    HOST: '127.0.0.1',
    SCHEDSTACK_EVENTS_STREAM: `BENCH_EVENTS_${suffix}`,
    SCHEDSTACK_EVENTS_PREFIX: `bench_${suffix}`,
    SCHEDSTACK_BUS_PREFIX: `b${suffix}.`,
    LOG_LEVEL: 'warn',
  };
  const processes = [];
  const metricsUrls = [];
  const dropEverything = async () => {
    await stopAll(processes);
    const nc = await connect({ servers: natsUrl });
    await (await nc.jetstreamManager()).streams.delete(env.SCHEDSTACK_EVENTS_STREAM).catch(() => undefined);
    await nc.close();
    const c = new Client({ connectionString: adminUrl });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await c.end();
  };
  const sendingThreads = String(sendingThreadsPerDispatcher(dispatchers));
  try {
    for (const app of APPS) {
      const copies = app === 'dispatcher' ? dispatchers : 1;
      for (let i = 1; i <= copies; i++) {
        const metricsPort = app === 'gateway' ? null : await freePort();
        if (app === 'dispatcher') metricsUrls.push(`http://127.0.0.1:${metricsPort}/metrics`);
        const own = { ...(metricsPort ? { METRICS_PORT: String(metricsPort) } : {}), ...(app === 'dispatcher' ? { SCHEDSTACK_DISPATCH_THREADS: sendingThreads } : {}) };
        processes.push(spawnNode(`dist/apps/${app}/src/main.js`, { ...env, ...own }, copies > 1 ? `${app}#${i}` : app));
      }
    }
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, 'the distributed profile was not ready', processes);
    const nc = await connect({ servers: natsUrl });
    const codec = JSONCodec();
    const pattern = 'environments.demo.bootstrap';
    const reply = await nc.request(`${env.SCHEDSTACK_BUS_PREFIX}${pattern}`, codec.encode({ pattern, data: {}, id: 'bench' }), { timeout: 30_000 });
    await nc.close();
    const demo = codec.decode(reply.data).response;
    return {
      profile: 'distributed',
      url,
      keys: demo.keys,
      owner: demo.owner,
      metricsUrls,
      cpuSources: [
        ...processes.map((p) => ({ name: p.name, pid: p.pid, self: true })),
        { name: 'postgres (machine, all backends)', comm: 'postgres' },
        { name: 'nats-server (machine)', comm: 'nats-server' },
      ],
      stop: dropEverything,
    };
  } catch (error) {
    await dropEverything().catch(() => undefined);
    throw error;
  }
}

module.exports = { startLocal, startDistributed, sendingThreadsPerDispatcher };
