import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { type HealthReport, PATTERNS } from '@schedstack/contracts';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { BUS_CLIENT } from '@schedstack/messaging';
import { request } from '@schedstack/platform';
import type { Response } from 'express';

const SERVICES = [PATTERNS.environments.health, PATTERNS.schedules.health, PATTERNS.dispatcher.health, PATTERNS.webhooks.health];

@ApiTags('health')
@Controller()
export class HealthHttpController {
  constructor(@Inject(BUS_CLIENT) private readonly bus: ClientProxy) {}

  /** Liveness: the gateway process answers. */
  @Get('healthz')
  @ApiOperation({ summary: 'Liveness' })
  @ApiOkResponse({ description: 'The gateway answers.', schema: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } } }, example: { status: 'ok' } })
  healthz() {
    return { status: 'ok' };
  }

  /** Readiness (SPEC §9): every service answers over the bus and reaches its database and the event store. */
  @Get('readyz')
  @ApiOperation({ summary: 'Readiness of every service, its database and the event store' })
  @ApiOkResponse({ description: 'Ready.', schema: { type: 'object', additionalProperties: true }, example: { status: 'ready', services: { schedules: { ok: true, database: true, event_store: true } } } })
  @ApiServiceUnavailableResponse({ description: 'Not ready: the body says which check failed.', schema: { type: 'object', additionalProperties: true } })
  async readyz(@Res({ passthrough: true }) res: Response) {
    const reports = await Promise.all(
      SERVICES.map((pattern) =>
        request<HealthReport>(this.bus, pattern, {}, 2_000).catch(
          (): HealthReport => ({ service: pattern.split('.')[0], ok: false, checks: { bus: false } }),
        ),
      ),
    );
    const ready = reports.every((r) => r.ok);
    const body = { status: ready ? 'ready' : 'not_ready', services: Object.fromEntries(reports.map((r) => [r.service, { ok: r.ok, ...r.checks }])) };
    if (!ready) res.status(503);
    return body;
  }
}
