#!/usr/bin/env node
// Writes the gateway's OpenAPI document to docs/openapi.json without starting any service: the
// document comes from the controllers' metadata alone. `npm run build` runs this after tsc, and
// the console's typed client is generated from the file, so console and API cannot drift.
require('reflect-metadata');
require('./register-paths');
const fs = require('node:fs');
const path = require('node:path');
const { Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { Pool } = require('pg');
const { GatewayApiModule, buildOpenApiDocument } = require('@schedstack/gateway-api');
const { loadConfig } = require('@schedstack/platform');
const { PlatformModule } = require('@schedstack/runtime');

async function main() {
  const config = loadConfig('local', { ...process.env, DATABASE_URL: '' });
  // Adapters are never used: the app is created but not initialised, so nothing connects.
  const unused = new Proxy({}, { get: (_t, prop) => prop === 'then' ? undefined : () => { throw new Error(`${String(prop)}() is not available while exporting the OpenAPI document`); } });
  const adapters = { config, pool: new Pool({ max: 1 }), store: unused, feed: unused, bus: unused };
  class ExportModule {}
  Module({ imports: [PlatformModule.forRoot(adapters), GatewayApiModule] })(ExportModule);
  const app = await NestFactory.create(ExportModule, { logger: false, bodyParser: false, abortOnError: false });
  const document = buildOpenApiDocument(app, GatewayApiModule, config.version);
  const file = path.join(__dirname, '..', 'docs', 'openapi.json');
  fs.writeFileSync(file, JSON.stringify(document, null, 2) + '\n');
  await adapters.pool.end();
  console.log(`› OpenAPI document written to ${path.relative(process.cwd(), file)} (${Object.keys(document.paths).length} paths)`);
}

main().catch((error) => {
  console.error(`could not export the OpenAPI document: ${error.stack || error}`);
  process.exit(1);
});
