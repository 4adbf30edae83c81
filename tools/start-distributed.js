#!/usr/bin/env node
// `npm run start:distributed`: the five apps as separate processes against this machine's NATS
// (NATS_URL, default nats://127.0.0.1:4222) and PostgreSQL (DATABASE_URL, default
// postgres://postgres@127.0.0.1:5432/schedstack, created when missing). Output is prefixed with the
// app's name; Ctrl-C stops them all. On a fresh database it creates the demo project and prints keys.
const { spawn } = require('node:child_process');
const { PRODUCT_NODE_FLAGS } = require('./node-flags');
const fs = require('node:fs');
const path = require('node:path');
const { Client } = require('pg');
const { connect, JSONCodec } = require('nats');

const root = path.join(__dirname, '..');
const APPS = ['environments', 'schedules', 'dispatcher', 'webhooks', 'gateway'];
const COLORS = [36, 33, 35, 32, 34];

const env = {
  ...process.env,
  DATABASE_URL: process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/schedstack',
  NATS_URL: process.env.NATS_URL || 'nats://127.0.0.1:4222',
  PORT: process.env.PORT || '3000',
};

async function ensureDatabase(url) {
  const target = new URL(url);
  const name = target.pathname.slice(1);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '')}"`);
      console.log(`› created database ${name}`);
    }
  } finally {
    await client.end();
  }
}

/** Asks the environments service for the demo project, speaking Nest's NATS request/reply format. */
async function bootstrapDemo() {
  const nc = await connect({ servers: env.NATS_URL });
  const codec = JSONCodec();
  try {
    const reply = await nc.request(`${env.SCHEDSTACK_BUS_PREFIX ?? ''}environments.demo.bootstrap`, codec.encode({ pattern: 'environments.demo.bootstrap', data: {}, id: 'cli' }), { timeout: 30000 });
    return codec.decode(reply.data).response;
  } finally {
    await nc.close();
  }
}

async function waitReady(url, children) {
  for (let i = 0; i < 240; i++) {
    if (children.some((c) => c.exitCode !== null)) throw new Error('an app exited during start (see its output above)');
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('the apps did not become ready within 60 s');
}

async function main() {
  await ensureDatabase(env.DATABASE_URL);
  const children = APPS.map((app, i) => {
    const child = spawn(process.execPath, [...PRODUCT_NODE_FLAGS, '-r', './tools/register-paths.js', `dist/apps/${app}/src/main.js`], { cwd: root, env });
    const prefix = `\x1b[${COLORS[i]}m${app.padEnd(12)}\x1b[0m│ `;
    for (const stream of [child.stdout, child.stderr]) {
      let buffered = '';
      stream.on('data', (chunk) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop();
        for (const line of lines) process.stdout.write(prefix + line + '\n');
      });
    }
    child.on('exit', (code, signal) => process.stdout.write(`${prefix}exited (${signal ?? code})\n`));
    return child;
  });
  const stop = () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  const url = `http://localhost:${env.PORT}`;
  await waitReady(url, children);
  const demo = await bootstrapDemo();
  const file = path.join(root, '.schedstack', 'credentials-distributed.json');
  if (demo.created) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ project_id: demo.project_id, owner: demo.owner, keys: demo.keys }, null, 2) + '\n', { mode: 0o600 });
  }
  const saved = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : null;
  console.log(`\n  SchedStack (distributed profile) is ready  →  ${url}`);
  if (saved) {
    console.log(`  Live key ${saved.keys.live}\n  Test key ${saved.keys.test}\n  (saved in ${path.relative(root, file)})\n`);
  } else {
    console.log(`  The database already had a project (${demo.project_id}); its keys were printed on its first start.\n`);
  }
}

main().catch((error) => {
  console.error(`could not start the distributed profile: ${error.message}`);
  process.exit(1);
});
