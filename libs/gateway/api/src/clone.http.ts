import { Body, Controller, HttpCode, Inject, Param, Post, UseGuards, UsePipes } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { ApiTags } from '@nestjs/swagger';
import { type CloneResult, PATTERNS, type Scope } from '@schedstack/contracts';
import { BUS_CLIENT } from '@schedstack/messaging';
import { request } from '@schedstack/platform';
import { CloneDto } from './access.dto';
import { ApiKeyGuard, CurrentScope } from './api-key.guard';
import { RequirePermission } from './caller';
import { apiValidationPipe } from './validation';

/** SPEC §5 clone: live's configuration into sandbox or test. */
@ApiTags('environments')
@Controller('v1/environments')
@UseGuards(ApiKeyGuard)
@UsePipes(apiValidationPipe)
export class CloneHttpController {
  constructor(@Inject(BUS_CLIENT) private readonly bus: ClientProxy) {}

  @Post(':environment/clone')
  @HttpCode(200)
  @RequirePermission('clone')
  clone(@CurrentScope() scope: Scope, @Param('environment') environment: string, @Body() dto: CloneDto): Promise<CloneResult> {
    return request(this.bus, PATTERNS.environments.clone, { scope, target: environment, source: dto.source ?? 'live', dry_run: dto.dry_run ?? false }, 30_000);
  }
}
