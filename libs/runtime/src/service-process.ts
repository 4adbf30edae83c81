import { type DynamicModule, type INestApplication, Logger, Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { configureHttpPipeline } from '@schedstack/gateway-api';
import { natsServerStrategy } from '@schedstack/messaging';
import { loadConfig, type PlatformConfig } from '@schedstack/platform';
import { createDistributedRuntime } from './distributed-runtime';
import { startMetricsServer } from './metrics-server';
import { PlatformModule } from './platform.module';
import { startTelemetry } from './telemetry';

export interface ServiceProcessOptions {
  /** Service name: NATS queue group and log prefix. */
  readonly service: string;
  readonly modules: readonly (Type<unknown> | DynamicModule)[];
  /** The gateway serves HTTP; the other services answer on NATS only. */
  readonly http?: boolean;
}

export interface ServiceProcess {
  readonly app: INestApplication;
  readonly config: PlatformConfig;
  close(): Promise<void>;
}

/** One app of the distributed profile: the shared bootstrap every `apps/<service>/main.ts` calls. */
export async function startServiceProcess(options: ServiceProcessOptions): Promise<ServiceProcess> {
  const config = loadConfig('distributed');
  startTelemetry(options.service);
  const logger = new Logger(options.service);
  const runtime = await createDistributedRuntime(config, options.service);

  @Module({ imports: [PlatformModule.forRoot(runtime.adapters), ...options.modules] })
  class ServiceModule {}

  const levels = config.logLevel === 'debug' ? (['error', 'warn', 'log', 'debug'] as const) : (['error', 'warn'] as const);
  const app = await NestFactory.create(ServiceModule, { bodyParser: false, logger: [...levels], abortOnError: false });
  if (options.http) configureHttpPipeline(app);
  else app.connectMicroservice(natsServerStrategy(config.natsUrl, options.service, config.busPrefix), { inheritAppConfig: false });
  if (options.http) {
    await app.listen(config.port, config.host);
  } else {
    // Migrations and read models first (onModuleInit), then NATS: a request that arrives before the
    // tables exist would fail (seen: "relation env_projects does not exist" under load).
    await app.init();
    await app.startAllMicroservices();
  }
  const metrics = config.metricsPort !== null && !options.http ? await startMetricsServer(config.metricsPort, config.host) : null;
  process.stdout.write(`› ${options.service} ready${options.http ? ` on http://localhost:${config.port}` : ''} (NATS ${config.natsUrl})\n`);

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      metrics?.close();
      await app.close();
      await runtime.close();
    })());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stdout.write(`› ${options.service}: ${signal}, shutting down\n`);
      void close().then(
        () => process.exit(0),
        (error) => {
          logger.error(error);
          process.exit(1);
        },
      );
    });
  }
  return { app, config, close };
}

/** Runs `start` and exits with a clear message when the process cannot start. */
export function runMain(start: () => Promise<unknown>): void {
  start().catch((error) => {
    console.error(`could not start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
