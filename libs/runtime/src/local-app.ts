import { type INestApplication, Logger, type LoggerService, type LogLevel, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { ClientProxy } from '@nestjs/microservices';
import { type DemoCredentials, PATTERNS } from '@schedstack/contracts';
import { DispatcherServiceModule } from '@schedstack/dispatcher-service';
import { EnvironmentsServiceModule } from '@schedstack/environments-service';
import { configureHttpPipeline, GatewayApiModule } from '@schedstack/gateway-api';
import { type PlatformConfig, request } from '@schedstack/platform';
import { SchedulesServiceModule } from '@schedstack/schedules-service';
import { WebhooksServiceModule } from '@schedstack/webhooks-service';
import { createLocalRuntime } from './local-runtime';
import { PlatformModule } from './platform.module';
import { startTelemetry } from './telemetry';

export interface LocalApp {
  readonly app: INestApplication;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly bus: ClientProxy;
  /** Creates the demo project on a fresh database; on a used one says so (secrets are not kept). */
  bootstrapDemo(): Promise<DemoCredentials>;
  close(): Promise<void>;
}

/** The five service modules, composed in one process (SPEC §1 local profile). */
export const SERVICE_MODULES = [EnvironmentsServiceModule, SchedulesServiceModule, DispatcherServiceModule, WebhooksServiceModule];

export async function startLocalApp(
  config: PlatformConfig,
  databaseUrl: string,
  options: { logger?: LoggerService | LogLevel[] | false } = {},
): Promise<LocalApp> {
  startTelemetry('schedstack');
  const runtime = await createLocalRuntime(config, databaseUrl);

  @Module({ imports: [PlatformModule.forRoot(runtime.adapters), ...SERVICE_MODULES, GatewayApiModule] })
  class LocalAppModule {}

  const app = await NestFactory.create(LocalAppModule, {
    bodyParser: false,
    logger: options.logger === undefined ? new Logger() : options.logger,
    abortOnError: false,
  });
  configureHttpPipeline(app);
  // The bus handlers get their error filter from BusController and their trace from the bus server
  // (withBusTrace); the app's global enhancers (the HTTP error filter, ApiRouteInterceptor) are the
  // API's, and each would be one more layer on every bus message (docs/decisions.md).
  app.connectMicroservice({ strategy: runtime.server }, { inheritAppConfig: false });
  await app.startAllMicroservices();
  await app.listen(config.port, config.host);
  const address = app.getHttpServer().address() as { port: number };
  const bus = runtime.adapters.bus;
  let closed = false;
  return {
    app,
    url: `http://127.0.0.1:${address.port}`,
    bus,
    bootstrapDemo: () => request<DemoCredentials>(bus, PATTERNS.environments.bootstrapDemo, {}, 30_000),
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      await runtime.close();
    },
  };
}
