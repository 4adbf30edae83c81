import 'reflect-metadata';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '@schedstack/platform';
import { startLocalApp, startLocalDatabase } from '@schedstack/runtime';
import { printBanner, readCredentials, writeCredentials } from './banner';

/** `npm start`: the whole product in one process (SPEC §1 local profile). */
async function main(): Promise<void> {
  const config = loadConfig('local');
  const say = (line: string) => process.stdout.write(`› ${line}\n`);
  say(`SchedStack ${config.version} — local profile, data in ${config.home}`);
  const database = config.databaseUrl ? null : await startLocalDatabase(config.home, say);
  say(database ? 'Embedded PostgreSQL is up.' : `Using DATABASE_URL.`);
  const databaseUrl = config.databaseUrl ?? (database as { url: string }).url;
  const local = await startLocalApp(config, databaseUrl, { logger: ['error', 'warn'] });
  const demo = await local.bootstrapDemo();
  const file = path.join(config.home, 'credentials.json');
  const credentials = demo.created ? writeCredentials(file, demo) : readCredentials(file, demo);
  printBanner(config.port === 0 ? local.url : `http://localhost:${config.port}`, credentials, file);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: shutting down…`);
    await local.close().catch((e) => console.error(e));
    await database?.stop().catch((e) => console.error(e));
    say('Stopped cleanly.');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  fs.mkdirSync(config.home, { recursive: true });
}

main().catch((error) => {
  console.error(`\nSchedStack could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
