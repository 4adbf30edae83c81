import { MessagePattern, Payload } from '@nestjs/microservices';
import { type GetByIdQuery, type ListQuery, PATTERNS, type Scoped, type SloQuery } from '@schedstack/contracts';
import { BusController, PlatformHealth } from '@schedstack/platform';
import { DispatcherApplication } from './dispatcher.application';

@BusController()
export class DispatcherController {
  constructor(
    private readonly dispatcher: DispatcherApplication,
    private readonly platformHealth: PlatformHealth,
  ) {}

  @MessagePattern(PATTERNS.dispatcher.listDeliveries)
  list(@Payload() query: ListQuery) {
    return this.dispatcher.list(query);
  }

  @MessagePattern(PATTERNS.dispatcher.getDelivery)
  get(@Payload() query: GetByIdQuery) {
    return this.dispatcher.get(query);
  }

  @MessagePattern(PATTERNS.dispatcher.countDeliveriesToday)
  countToday(@Payload() query: Scoped) {
    return this.dispatcher.countDeliveriesToday(query.scope);
  }

  @MessagePattern(PATTERNS.dispatcher.replayDelivery)
  replay(@Payload() command: GetByIdQuery) {
    return this.dispatcher.replay(command);
  }

  @MessagePattern(PATTERNS.dispatcher.listDeadLetters)
  listDeadLetters(@Payload() query: ListQuery) {
    return this.dispatcher.listDeadLetters(query);
  }

  @MessagePattern(PATTERNS.dispatcher.getSigningSecret)
  getSigningSecret(@Payload() query: Scoped) {
    return this.dispatcher.getSigningSecret(query);
  }

  @MessagePattern(PATTERNS.dispatcher.rotateSigningSecret)
  rotateSigningSecret(@Payload() command: Scoped) {
    return this.dispatcher.rotateSigningSecret(command);
  }

  @MessagePattern(PATTERNS.dispatcher.getSlo)
  slo(@Payload() query: SloQuery) {
    return this.dispatcher.slo(query);
  }

  @MessagePattern(PATTERNS.dispatcher.health)
  health() {
    return this.platformHealth.report('dispatcher');
  }
}
