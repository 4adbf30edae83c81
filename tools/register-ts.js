// Lets a worker thread started from TypeScript sources (under jest) load them: each .ts file is
// compiled with swc, as jest.config.js does, and the @schedstack/* aliases resolve to the sources.
// Compiled files are cached on disk by content, so the threads of every test stack after the
// first load them without compiling again (each stack starts its own sending threads).
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const tsconfigPaths = require('tsconfig-paths');
const { compilerOptions } = require('../tsconfig.base.json');

const cacheDir = path.join(os.tmpdir(), 'schedstack-register-ts');
fs.mkdirSync(cacheDir, { recursive: true });

const SWC_OPTIONS = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
  },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};
// A cached file is reused only for the same compiler and options as well as the same source.
const COMPILER = JSON.stringify([require('@swc/core/package.json').version, SWC_OPTIONS]);

function compile(source, filename) {
  const key = crypto.createHash('sha256').update(COMPILER).update('\0').update(filename).update('\0').update(source).digest('hex');
  const cached = path.join(cacheDir, `${key}.js`);
  try {
    return fs.readFileSync(cached, 'utf8');
  } catch {
    const { code } = require('@swc/core').transformSync(source, { filename, ...SWC_OPTIONS });
    // Written whole under a temporary name first: a thread reading it meanwhile never sees half a file.
    const partial = `${cached}.${process.pid}.${require('node:worker_threads').threadId}`;
    fs.writeFileSync(partial, code);
    fs.renameSync(partial, cached);
    return code;
  }
}

require.extensions['.ts'] = (module, filename) => module._compile(compile(fs.readFileSync(filename, 'utf8'), filename), filename);
tsconfigPaths.register({ baseUrl: path.join(__dirname, '..'), paths: compilerOptions.paths });
