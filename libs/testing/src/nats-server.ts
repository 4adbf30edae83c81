import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '@schedstack/contracts';

/** A NATS server with JetStream that a suite owns (never the machine's shared one): it may stop and start it at will. */
export interface OwnNatsServer {
  readonly url: string;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and JetStream store directory. */
  start(): Promise<void>;
  /** Stops it for good (SIGKILL when SIGTERM is not enough) and removes its store directory. */
  close(): Promise<void>;
}

/** `nats-server -js` on a free loopback port with a store directory of its own. */
export async function startOwnNatsServer(): Promise<OwnNatsServer> {
  const binary = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
  const port = await freePort();
  const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'schedstack-nats-'));
  let child: ChildProcess | null = null;

  const start = async (): Promise<void> => {
    const proc = spawn(binary, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server did not start within 15 s:\n${output}`)), 15_000);
      const onData = (chunk: Buffer): void => {
        output = (output + chunk.toString()).slice(-10_000);
        if (output.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      proc.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited with ${code}:\n${output}`));
      });
    });
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const hard = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(hard);
  };

  try {
    await start();
  } catch (error) {
    await stop();
    fs.rmSync(storeDir, { recursive: true, force: true });
    throw error;
  }
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
