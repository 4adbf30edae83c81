import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '@schedstack/testing';

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

/** A NATS server with JetStream that a suite owns: it may stop and start it at will. */
export interface OwnNatsServer {
  readonly url: string;
  /** Stops it (SIGTERM, as an orchestrator would) and waits until it has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port and JetStream store directory. */
  start(): Promise<void>;
  /** Stops it for good and removes its store directory. */
  close(): Promise<void>;
}

/** Starts `nats-server -js` on a free loopback port with a store directory of its own — never the machine's shared server. */
export async function startOwnNatsServer(): Promise<OwnNatsServer> {
  const port = await freePort();
  const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'schedstack-faults-nats-'));
  let child: ChildProcess | null = null;
  const log: string[] = [];

  const start = async () => {
    const proc = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server did not start within 15 s:\n${log.join('')}`)), 15_000);
      const onData = (chunk: Buffer) => {
        log.push(chunk.toString());
        if (log.length > 200) log.shift();
        if (chunk.toString().includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited with ${code}:\n${log.join('')}`));
      });
    });
  };

  const stop = async () => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const hard = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(hard);
  };

  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    stop,
    start,
    async close() {
      await stop();
      fs.rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
