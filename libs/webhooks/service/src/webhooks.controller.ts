import { MessagePattern, Payload } from '@nestjs/microservices';
import { type GetByIdQuery, type ListQuery, PATTERNS, type WebhookEndpointCommand } from '@schedstack/contracts';
import { BusController, PlatformHealth } from '@schedstack/platform';
import { WebhooksApplication } from './webhooks.application';

/** SPEC §6 webhook endpoints over the bus. */
@BusController()
export class WebhooksController {
  constructor(
    private readonly webhooks: WebhooksApplication,
    private readonly platformHealth: PlatformHealth,
  ) {}

  @MessagePattern(PATTERNS.webhooks.createEndpoint)
  create(@Payload() command: WebhookEndpointCommand) {
    return this.webhooks.create(command);
  }

  @MessagePattern(PATTERNS.webhooks.listEndpoints)
  list(@Payload() query: ListQuery) {
    return this.webhooks.list(query);
  }

  @MessagePattern(PATTERNS.webhooks.getEndpoint)
  get(@Payload() query: GetByIdQuery) {
    return this.webhooks.get(query);
  }

  @MessagePattern(PATTERNS.webhooks.updateEndpoint)
  update(@Payload() command: WebhookEndpointCommand) {
    return this.webhooks.update(command);
  }

  @MessagePattern(PATTERNS.webhooks.deleteEndpoint)
  remove(@Payload() command: GetByIdQuery) {
    return this.webhooks.remove(command);
  }

  @MessagePattern(PATTERNS.webhooks.rotateEndpointSecret)
  rotateSecret(@Payload() command: GetByIdQuery) {
    return this.webhooks.rotateSecret(command);
  }

  @MessagePattern(PATTERNS.webhooks.health)
  health() {
    return this.platformHealth.report('webhooks');
  }
}
