import { Inject, Injectable } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { type LimitsView, PATTERNS, type Scope } from '@schedstack/contracts';
import { BUS_CLIENT } from '@schedstack/messaging';
import { request } from '@schedstack/platform';
import { CREDENTIALS_TTL_MS } from './credentials.cache';

/**
 * Each environment's limits, as the rate limiter reads them on every request: asked of the
 * environments service at most once per TTL per environment. A change through this gateway
 * applies at once; on other replicas within the TTL.
 */
@Injectable()
export class LimitsCache {
  private readonly entries = new Map<string, { value: LimitsView; expires: number }>();

  constructor(@Inject(BUS_CLIENT) private readonly bus: ClientProxy) {}

  async get(scope: Scope): Promise<LimitsView> {
    const key = `${scope.projectId}.${scope.environment}`;
    const cached = this.entries.get(key);
    if (cached && cached.expires > Date.now()) return cached.value;
    const value = await request<LimitsView>(this.bus, PATTERNS.environments.getLimits, { scope });
    this.entries.set(key, { value, expires: Date.now() + CREDENTIALS_TTL_MS });
    return value;
  }

  remember(scope: Scope, value: LimitsView): void {
    this.entries.set(`${scope.projectId}.${scope.environment}`, { value, expires: Date.now() + CREDENTIALS_TTL_MS });
  }
}
