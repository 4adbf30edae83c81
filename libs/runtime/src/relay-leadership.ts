import { Logger } from '@nestjs/common';
import type { EventRelay } from '@schedstack/messaging';
import { Client } from 'pg';

const RELAY_LOCK_KEY = 'schedstack_event_relay';

/**
 * Every distributed process can relay events to JetStream, but one at a time: the holder of a
 * PostgreSQL session advisory lock runs the relay. When its process dies, its connection closes,
 * the lock is released, and another process takes over within `retryMs`.
 */
export class RelayLeadership {
  private readonly logger = new Logger('relay');
  private client: Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private leading = false;
  private stopped = false;

  constructor(
    private readonly databaseUrl: string,
    private readonly relay: EventRelay,
    private readonly retryMs = 2_000,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    void this.tryLead();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.leading) await this.relay.stop();
    this.leading = false;
    await this.client?.end().catch(() => undefined);
    this.client = null;
  }

  private async tryLead(): Promise<void> {
    if (this.stopped) return;
    try {
      if (!this.client) {
        const client = new Client({ connectionString: this.databaseUrl });
        client.on('error', () => void this.lostLeadership());
        await client.connect();
        this.client = client;
      }
      const { rows } = await this.client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(hashtext($1)) AS locked`, [RELAY_LOCK_KEY]);
      if (rows[0].locked && !this.stopped) {
        this.leading = true;
        this.logger.log('this process now relays events to JetStream');
        await this.relay.start();
        return;
      }
    } catch (error) {
      this.logger.warn(`relay leadership check failed: ${(error as Error).message}`);
      await this.dropClient();
    }
    this.timer = setTimeout(() => void this.tryLead(), this.retryMs);
  }

  private async lostLeadership(): Promise<void> {
    if (this.leading) {
      this.logger.warn('lost the relay lock (database connection closed); stopping the relay');
      this.leading = false;
      await this.relay.stop().catch(() => undefined);
    }
    await this.dropClient();
    if (!this.stopped) this.timer = setTimeout(() => void this.tryLead(), this.retryMs);
  }

  private async dropClient(): Promise<void> {
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }
}
