import { Body, Controller, Get, Inject, Patch, UseGuards, UsePipes } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { ApiTags } from '@nestjs/swagger';
import { type LimitsView, PATTERNS, type Scope } from '@schedstack/contracts';
import { BUS_CLIENT } from '@schedstack/messaging';
import { request } from '@schedstack/platform';
import { UpdateLimitsDto } from './access.dto';
import { ApiKeyGuard, CurrentScope } from './api-key.guard';
import { RequirePermission } from './caller';
import { LimitsCache } from './limits.cache';
import { apiValidationPipe } from './validation';

/** SPEC §5 rate limits and quotas of the caller's environment. */
@ApiTags('limits')
@Controller('v1/limits')
@UseGuards(ApiKeyGuard)
@UsePipes(apiValidationPipe)
export class LimitsHttpController {
  constructor(
    @Inject(BUS_CLIENT) private readonly bus: ClientProxy,
    private readonly limits: LimitsCache,
  ) {}

  @Get()
  get(@CurrentScope() scope: Scope): Promise<LimitsView> {
    return request(this.bus, PATTERNS.environments.getLimits, { scope });
  }

  @Patch()
  @RequirePermission('edit_limits')
  async update(@CurrentScope() scope: Scope, @Body() dto: UpdateLimitsDto): Promise<LimitsView> {
    const updated = await request<LimitsView>(this.bus, PATTERNS.environments.updateLimits, { scope, input: dto });
    // This gateway applies the new limit from the next request; other replicas within the cache TTL.
    this.limits.remember(scope, updated);
    return updated;
  }
}
