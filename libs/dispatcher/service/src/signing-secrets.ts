import { type Scope, type SigningSecretView, streamName } from '@schedstack/contracts';
import { activeSecrets, signingSecretDecider, type SigningSecretState } from '@schedstack/dispatcher-domain';
import type { EventStore } from '@schedstack/event-store';
import { type Clock, handleCommand } from '@schedstack/platform';
import { DeliverySigner, generateSigningSecret, openSecret, sealSecret } from '@schedstack/signing';

/** What a claimed fire carries about its environment's secrets (sealed, as the read model holds them). */
export interface SealedSecrets {
  readonly current: string;
  readonly previous: string | null;
  readonly previousExpiresAt: Date | null;
}

const MAX_CACHED_SIGNERS = 10_000;

/**
 * SPEC §4 per-environment delivery signing secret, owned by the dispatcher. An environment gets
 * its secret the first time it is needed (its first fire, or a `GET /v1/signing-secret`), so no
 * other service has to know it exists.
 */
export class SigningSecrets {
  private readonly signers = new Map<string, DeliverySigner>();

  constructor(
    private readonly store: EventStore,
    private readonly clock: Clock,
    private readonly secretsKey: string | null,
  ) {}

  /** The environment's secret state, creating the first secret when there is none. */
  async ensure(scope: Scope): Promise<SigningSecretState> {
    const outcome = await handleCommand(this.store, this.stream(scope), signingSecretDecider, { type: 'create', data: { secret: this.newSealedSecret() } }, () =>
      this.clock.now(),
    );
    return outcome.state;
  }

  async view(scope: Scope): Promise<SigningSecretView> {
    return this.present(scope, await this.ensure(scope));
  }

  /** A new secret signs from now on; the previous one keeps signing for 24 hours. */
  async rotate(scope: Scope): Promise<SigningSecretView> {
    const outcome = await handleCommand(this.store, this.stream(scope), signingSecretDecider, { type: 'rotate', data: { secret: this.newSealedSecret() } }, () =>
      this.clock.now(),
    );
    return this.present(scope, outcome.state);
  }

  /** The sealed secrets of a state, in the shape claimed fires carry them. */
  static sealedOf(state: SigningSecretState): SealedSecrets | null {
    if (state.status === 'none') return null;
    return { current: state.secret, previous: state.previous?.secret ?? null, previousExpiresAt: state.previous ? new Date(state.previous.expiresAt) : null };
  }

  /** The signer for the secrets active at `at`; unsealing happens once per secret set, not per request. */
  signer(secrets: SealedSecrets, at: Date): DeliverySigner {
    const sealed = [secrets.current];
    if (secrets.previous && secrets.previousExpiresAt && secrets.previousExpiresAt.getTime() > at.getTime()) sealed.push(secrets.previous);
    const key = sealed.join(' ');
    let signer = this.signers.get(key);
    if (!signer) {
      if (this.signers.size >= MAX_CACHED_SIGNERS) this.signers.clear();
      signer = new DeliverySigner(sealed.map((s) => openSecret(s, this.secretsKey)));
      this.signers.set(key, signer);
    }
    return signer;
  }

  private present(scope: Scope, state: SigningSecretState): SigningSecretView {
    if (state.status === 'none') throw new Error('signing secret state is empty after ensure');
    const now = this.clock.now();
    const [, previous] = activeSecrets(state, now);
    return {
      object: 'signing_secret',
      mode: scope.environment,
      secret: openSecret(state.secret, this.secretsKey),
      previous_secret: previous ? openSecret(previous, this.secretsKey) : null,
      previous_expires_at: previous && state.previous ? state.previous.expiresAt : null,
      created_at: state.createdAt,
    };
  }

  private stream(scope: Scope): string {
    return streamName(scope, 'signing_secret', 'deliveries');
  }

  private newSealedSecret(): string {
    return sealSecret(generateSigningSecret(), this.secretsKey);
  }
}
