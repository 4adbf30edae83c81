// Resolves the @schedstack/* aliases of tsconfig.base.json against the compiled tree in dist/,
// so `node -r ./tools/register-paths.js dist/apps/<app>/src/main.js` runs without a bundler.
const path = require('node:path');
const tsconfigPaths = require('tsconfig-paths');
const { compilerOptions } = require('../tsconfig.base.json');

const paths = {};
for (const [alias, [target]] of Object.entries(compilerOptions.paths)) {
  paths[alias] = [target.replace(/\.ts$/, '.js')];
}
tsconfigPaths.register({ baseUrl: path.join(__dirname, '..', 'dist'), paths });
