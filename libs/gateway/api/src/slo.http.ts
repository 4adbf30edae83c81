import { Controller, Get, Inject, Query, UseGuards, UsePipes } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { type Environment, ENVIRONMENTS, PATTERNS, type Scope, SLO_WINDOWS, type SloExclusion, type SloReport, type SloWindow } from '@schedstack/contracts';
import { BUS_CLIENT } from '@schedstack/messaging';
import { request } from '@schedstack/platform';
import { IsIn, IsOptional } from 'class-validator';
import { ApiKeyGuard, CurrentScope } from './api-key.guard';
import { ApiErrors, invalid } from './openapi.errors';
import { apiValidationPipe } from './validation';

export class SloQueryDto {
  @ApiPropertyOptional({ enum: SLO_WINDOWS, default: '1h' })
  @IsOptional()
  @IsIn(SLO_WINDOWS, { message: `window must be one of ${SLO_WINDOWS.join(', ')}` })
  window?: SloWindow;
}

class SloObjectiveModel {
  @ApiProperty({ enum: [99] })
  percentile!: 99;
  @ApiProperty({ example: 300 })
  threshold_ms!: number;
  @ApiProperty({ example: 0.99 })
  target!: number;
}

class SloLagModel {
  @ApiProperty({ type: Number, nullable: true })
  p50!: number | null;
  @ApiProperty({ type: Number, nullable: true })
  p90!: number | null;
  @ApiProperty({ type: Number, nullable: true })
  p99!: number | null;
}

class SloExcludedModel implements Record<SloExclusion, number> {
  @ApiProperty() retry!: number;
  @ApiProperty() reclaim!: number;
  @ApiProperty() rate_limited!: number;
  @ApiProperty() breaker_deferred!: number;
  @ApiProperty() coalesced!: number;
  @ApiProperty() dst_shifted!: number;
  @ApiProperty() catch_up!: number;
  @ApiProperty() replay!: number;
  @ApiProperty({ description: 'Attempts in test and sandbox.' }) non_live!: number;
}

class SloBudgetModel {
  @ApiProperty({ description: 'Eligible fires that may be slow: 1% of the eligible count.' })
  allowed!: number;
  @ApiProperty({ description: 'Fraction of the budget spent.' })
  consumed!: number;
  @ApiProperty({ description: 'Fraction of the budget left; negative when overspent.' })
  remaining!: number;
}

class SloPointModel {
  @ApiProperty({ format: 'date-time' })
  at!: string;
  @ApiProperty({ type: Number, nullable: true })
  p99_ms!: number | null;
  @ApiProperty()
  count!: number;
}

export class SloModel implements SloReport {
  @ApiProperty({ enum: ['slo'] })
  object!: 'slo';
  @ApiProperty({ enum: ENVIRONMENTS })
  mode!: Environment;
  @ApiProperty({ enum: SLO_WINDOWS })
  window!: SloWindow;
  @ApiProperty({ format: 'date-time' })
  from!: string;
  @ApiProperty({ format: 'date-time' })
  to!: string;
  @ApiProperty({ type: SloObjectiveModel })
  objective!: SloObjectiveModel;
  @ApiProperty({ description: 'Live first attempts in the window.' })
  eligible_count!: number;
  @ApiProperty({ description: 'Eligible attempts later than the threshold.' })
  slow_count!: number;
  @ApiProperty({ type: SloLagModel })
  lag_ms!: SloLagModel;
  @ApiProperty({ type: SloExcludedModel })
  excluded!: SloExcludedModel;
  @ApiProperty({ type: SloBudgetModel })
  error_budget!: SloBudgetModel;
  @ApiProperty({ description: 'Slow fraction ÷ 1%: above 1 the budget runs out before the window ends.' })
  burn_rate!: number;
  @ApiProperty({ type: [SloPointModel], description: 'p99 per sub-interval (5 min for 1h, 1 h for 24h, 6 h for 7d, 1 day for 30d).' })
  series!: SloPointModel[];
}

/** SPEC §7 `GET /v1/slo`: the dispatch-lag SLO of the caller's environment, from recorded attempts. */
@ApiTags('slo')
@Controller('v1/slo')
@UseGuards(ApiKeyGuard)
@UsePipes(apiValidationPipe)
export class SloHttpController {
  constructor(@Inject(BUS_CLIENT) private readonly bus: ClientProxy) {}

  @Get()
  @ApiOperation({ summary: 'Dispatch lag SLO', description: 'p50/p90/p99 of live first-attempt lag, exclusions by kind, objective, error budget and burn rate.' })
  @ApiOkResponse({ type: SloModel })
  @ApiErrors(invalid('window', `window must be one of ${SLO_WINDOWS.join(', ')}`))
  get(@CurrentScope() scope: Scope, @Query() query: SloQueryDto): Promise<SloReport> {
    return request(this.bus, PATTERNS.dispatcher.getSlo, { scope, window: query.window ?? '1h' });
  }
}
