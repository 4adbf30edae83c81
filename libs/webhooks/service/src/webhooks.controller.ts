import { Controller, UseFilters } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { PATTERNS } from '@schedstack/contracts';
import { PlatformHealth, RpcErrorsFilter } from '@schedstack/platform';

/** Platform webhooks (SPEC §6) arrive in issue [5/8]; the service already answers health checks. */
@Controller()
@UseFilters(RpcErrorsFilter)
export class WebhooksController {
  constructor(private readonly platformHealth: PlatformHealth) {}

  @MessagePattern(PATTERNS.webhooks.health)
  health() {
    return this.platformHealth.report('webhooks');
  }
}
