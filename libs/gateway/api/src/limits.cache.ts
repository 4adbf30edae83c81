import { Inject, Injectable } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { type LimitsView, PATTERNS, type Scope } from '@schedstack/contracts';
import { BUS_CLIENT } from '@schedstack/messaging';
import { request } from '@schedstack/platform';
import { CREDENTIALS_TTL_MS } from './credentials.cache';

/**
 * Each environment's limits, as the rate limiter reads them on every request: asked of the
 * environments service at most once per TTL per environment (requests arriving while it is being
 * asked share the answer). A change through this gateway applies at once; on other replicas within
 * the TTL.
 */
@Injectable()
export class LimitsCache {
  private readonly entries = new Map<string, { value: LimitsView; expires: number }>();
  private readonly asking = new Map<string, Promise<LimitsView>>();

  constructor(@Inject(BUS_CLIENT) private readonly bus: ClientProxy) {}

  get(scope: Scope): Promise<LimitsView> {
    const key = `${scope.projectId}.${scope.environment}`;
    const cached = this.entries.get(key);
    if (cached && cached.expires > Date.now()) return Promise.resolve(cached.value);
    let asked = this.asking.get(key);
    if (!asked) {
      asked = request<LimitsView>(this.bus, PATTERNS.environments.getLimits, { scope });
      const settle = () => {
        if (this.asking.get(key) === asked) this.asking.delete(key);
      };
      asked.then((value) => {
        // A change remembered while the question was out is newer than its answer.
        if (this.asking.get(key) === asked) this.entries.set(key, { value, expires: Date.now() + CREDENTIALS_TTL_MS });
        settle();
      }, settle);
      this.asking.set(key, asked);
    }
    return asked;
  }

  remember(scope: Scope, value: LimitsView): void {
    const key = `${scope.projectId}.${scope.environment}`;
    this.asking.delete(key);
    this.entries.set(key, { value, expires: Date.now() + CREDENTIALS_TTL_MS });
  }
}
