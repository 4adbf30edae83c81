#!/usr/bin/env node
// `npm test`: type-check and build every project (the distributed suites run the compiled apps),
// then one jest run over all projects, then a summary that names what was skipped and why.
// Extra arguments go to jest (e.g. `npm test -- libs/time`).
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const resultsFile = path.join(root, 'tmp', 'jest-results.json');
fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
fs.rmSync(resultsFile, { force: true });

/** Prints the closing line (CI reads it) and records it for .ci/run, then exits. */
function finish(summary, code) {
  console.log(`\n${summary}`);
  fs.writeFileSync(path.join(root, 'tmp', 'test-summary.txt'), summary + '\n');
  process.exit(code);
}

console.log('› Type-checking and building (npm run build: services, OpenAPI document, console)…');
const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
if (build.status === 0) {
  // The suites are type-checked too (jest's transform does not check types).
  const typecheck = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  if (typecheck.status !== 0) build.status = typecheck.status;
}
if (build.status !== 0) {
  console.error('\nThe build failed: fix the type errors above.');
  finish('Tests: 0 passed, 1 failed', 1);
}

console.log('› Linting (module boundaries between apps, services and layers)…');
const lint = spawnSync('npm', ['run', 'lint', '--silent'], { cwd: root, stdio: 'inherit', env: { ...process.env, NX_DAEMON: 'false' } });
if (lint.status !== 0) {
  console.error('\nLint failed: see the errors above.');
  finish('Tests: 0 passed, 1 failed', 1);
}

const jest = spawnSync(
  process.execPath,
  [require.resolve('jest/bin/jest'), '--json', `--outputFile=${resultsFile}`, ...process.argv.slice(2)],
  { cwd: root, stdio: 'inherit', env: process.env },
);

let results;
try {
  results = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
} catch {
  console.error('\njest produced no results (it crashed before running tests; see above).');
  finish('Tests: 0 passed, 1 failed', jest.status || 1);
}

const skippedSuites = results.testResults.filter(
  (s) => s.assertionResults.length > 0 && s.assertionResults.every((a) => a.status === 'pending'),
);
if (skippedSuites.length > 0) {
  console.log('\nSuites skipped as a whole (their reason is printed at the top of the run):');
  for (const s of skippedSuites) console.log(`  - ${path.relative(root, s.name)}`);
}
// A suite that failed to load counts as one failure even though it ran no test.
const brokenSuites = results.testResults.filter((s) => s.status === 'failed' && s.assertionResults.length === 0).length;
const failed = results.numFailedTests + brokenSuites;
const skipped = results.numPendingTests + results.numTodoTests;
const summary = `Tests: ${results.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`;
finish(summary, failed > 0 || jest.status !== 0 ? 1 : 0);
