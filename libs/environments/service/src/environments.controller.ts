import { MessagePattern, Payload } from '@nestjs/microservices';
import { PATTERNS, type VerifyApiKeyQuery } from '@schedstack/contracts';
import { BusController, PlatformHealth } from '@schedstack/platform';
import { ApiKeysApplication } from './api-keys.application';
import { EnvironmentsApplication } from './environments.application';

@BusController()
export class EnvironmentsController {
  constructor(
    private readonly environments: EnvironmentsApplication,
    private readonly apiKeys: ApiKeysApplication,
    private readonly platformHealth: PlatformHealth,
  ) {}

  @MessagePattern(PATTERNS.environments.verifyApiKey)
  verify(@Payload() query: VerifyApiKeyQuery) {
    return this.apiKeys.verify(query);
  }

  @MessagePattern(PATTERNS.environments.bootstrapDemo)
  bootstrapDemo() {
    return this.environments.bootstrapDemo();
  }

  @MessagePattern(PATTERNS.environments.health)
  health() {
    return this.platformHealth.report('environments');
  }
}
