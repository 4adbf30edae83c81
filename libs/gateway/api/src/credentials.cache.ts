import { Injectable } from '@nestjs/common';
import type { VerifiedApiKey, VerifiedSession } from '@schedstack/contracts';

/**
 * How long a verified key or session is trusted without asking the environments service again.
 * A revocation or logout through this gateway takes effect at once (the entry is dropped); on
 * other replicas within this TTL (docs/environments.md).
 */
export const CREDENTIALS_TTL_MS = 2_000;
const MAX_ENTRIES = 10_000;

class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();
  /** Verifications under way: requests with the same credential arriving meanwhile share the answer. */
  private readonly loading = new Map<string, Promise<V | null>>();
  /** Moves on every `forget`, so a verification that was under way then is not remembered. */
  private generation = 0;

  get(key: string, load: () => Promise<V | null>): Promise<V | null> {
    const cached = this.entries.get(key);
    if (cached && cached.expires > Date.now()) return Promise.resolve(cached.value);
    const pending = this.loading.get(key);
    if (pending) return pending;
    const generation = this.generation;
    const settle = () => {
      if (this.loading.get(key) === loaded) this.loading.delete(key);
    };
    const loaded: Promise<V | null> = load().then(
      (value) => {
        settle();
        if (!value) this.entries.delete(key);
        else if (generation === this.generation) {
          if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
          this.entries.set(key, { value, expires: Date.now() + CREDENTIALS_TTL_MS });
        }
        return value;
      },
      (error: unknown) => {
        settle();
        throw error;
      },
    );
    this.loading.set(key, loaded);
    return loaded;
  }

  forget(matches: (value: V) => boolean): void {
    this.generation++;
    this.loading.clear();
    for (const [key, entry] of this.entries) if (matches(entry.value)) this.entries.delete(key);
  }
}

/** The gateway's short-lived memory of verified credentials, shared by the guard and the routes that revoke them. */
@Injectable()
export class CredentialsCache {
  private readonly keys = new TtlCache<VerifiedApiKey>();
  private readonly sessions = new TtlCache<VerifiedSession>();

  apiKey(secret: string, load: () => Promise<VerifiedApiKey | null>): Promise<VerifiedApiKey | null> {
    return this.keys.get(secret, load);
  }

  async session(token: string, load: () => Promise<VerifiedSession | null>): Promise<VerifiedSession | null> {
    const session = await this.sessions.get(token, load);
    // A cached session still ends on time.
    return session && Date.parse(session.expires_at) > Date.now() ? session : null;
  }

  forgetKey(keyId: string): void {
    this.keys.forget((v) => v.key_id === keyId);
  }

  forgetSession(sessionId: string): void {
    this.sessions.forget((v) => v.session_id === sessionId);
  }

  /** After a role change or removal: this user's sessions are verified afresh on the next request. */
  forgetUser(userId: string): void {
    this.sessions.forget((v) => v.user.id === userId);
  }
}
