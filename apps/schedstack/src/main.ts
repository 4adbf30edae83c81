import 'reflect-metadata';
import * as path from 'node:path';
import { loadConfig } from '@schedstack/platform';
import { type LocalApp, type LocalDatabase, startLocalApp, startLocalDatabase } from '@schedstack/runtime';
import { printBanner, readCredentials, writeCredentials } from './banner';

/** `npm start`: the whole product in one process (SPEC §1 local profile). */
async function main(): Promise<void> {
  const config = loadConfig('local');
  const say = (line: string) => process.stdout.write(`› ${line}\n`);
  let database: LocalDatabase | null = null;
  let local: LocalApp | null = null;

  // Installed first, so a signal during start-up still stops whatever has started: the app
  // before PostgreSQL, and never an orphan postgres left behind.
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: shutting down…`);
    await local?.close().catch((e) => console.error(e));
    await database?.stop().catch((e) => console.error(e));
    say('Stopped cleanly.');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  say(`SchedStack ${config.version} — local profile, data in ${config.home}`);
  if (!config.databaseUrl) {
    database = await startLocalDatabase(config.home, say);
    say('Embedded PostgreSQL is up.');
  } else {
    say('Using DATABASE_URL.');
  }
  if (stopping) return;
  try {
    local = await startLocalApp(config, config.databaseUrl ?? (database as LocalDatabase).url, { logger: ['error', 'warn'] });
    const demo = await local.bootstrapDemo();
    const file = path.join(config.home, 'credentials.json');
    const credentials = demo.created ? writeCredentials(file, demo) : readCredentials(file, demo);
    printBanner(config.port === 0 ? local.url : `http://localhost:${config.port}`, credentials, file);
  } catch (error) {
    // A failed start must not leave the embedded PostgreSQL running.
    await local?.close().catch(() => undefined);
    await database?.stop().catch(() => undefined);
    throw error;
  }
}

main().catch((error) => {
  console.error(`\nSchedStack could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
