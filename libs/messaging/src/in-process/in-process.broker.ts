/**
 * What the broker needs from a server: deliver a request (replies come back through `reply`) or an
 * event. Bodies are JSON bytes encoded with the NATS codec, so the boundary is the one NATS has.
 */
export interface InProcessEndpoint {
  deliverRequest(channel: string, body: Uint8Array, reply: (body: Uint8Array) => void): void;
  deliverEvent(channel: string, body: Uint8Array): void;
}

/**
 * The in-process "wire": a registry of which server handles which pattern, shared by every
 * `InProcessServer` and `InProcessClient` of the local profile.
 */
export class InProcessBroker {
  private readonly routes = new Map<string, InProcessEndpoint[]>();
  private readonly cursors = new Map<string, number>();

  register(channel: string, endpoint: InProcessEndpoint): void {
    const endpoints = this.routes.get(channel) ?? [];
    if (!endpoints.includes(endpoint)) endpoints.push(endpoint);
    this.routes.set(channel, endpoints);
  }

  unregister(channel: string, endpoint: InProcessEndpoint): void {
    const endpoints = (this.routes.get(channel) ?? []).filter((e) => e !== endpoint);
    if (endpoints.length > 0) this.routes.set(channel, endpoints);
    else {
      this.routes.delete(channel);
      this.cursors.delete(channel);
    }
  }

  /** One endpoint per request, round-robin, like a NATS queue group. */
  requestTarget(channel: string): InProcessEndpoint | undefined {
    const endpoints = this.routes.get(channel);
    if (!endpoints || endpoints.length === 0) return undefined;
    const cursor = this.cursors.get(channel) ?? 0;
    this.cursors.set(channel, (cursor + 1) % endpoints.length);
    return endpoints[cursor % endpoints.length];
  }

  /** Every server with the pattern gets the event (one per service, as with a queue per service). */
  eventTargets(channel: string): readonly InProcessEndpoint[] {
    return [...(this.routes.get(channel) ?? [])];
  }

  patterns(): string[] {
    return [...this.routes.keys()];
  }
}
