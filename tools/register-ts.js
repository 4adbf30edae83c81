// Lets a worker thread started from TypeScript sources (under jest) load them: each .ts file is
// compiled with swc, as jest.config.js does, and the @schedstack/* aliases resolve to the sources.
const fs = require('node:fs');
const path = require('node:path');
const { transformSync } = require('@swc/core');
const tsconfigPaths = require('tsconfig-paths');
const { compilerOptions } = require('../tsconfig.base.json');

require.extensions['.ts'] = (module, filename) => {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), {
    filename,
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  });
  module._compile(code, filename);
};
tsconfigPaths.register({ baseUrl: path.join(__dirname, '..'), paths: compilerOptions.paths });
