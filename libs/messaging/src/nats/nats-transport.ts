import { ClientNats, ClientProxy, type CustomStrategy, type MessageHandler, NatsOptions, ServerNats, Transport } from '@nestjs/microservices';
import { withBusTrace } from '../bus-trace';
import { InProcessBroker } from '../in-process/in-process.broker';
import { InProcessClient } from '../in-process/in-process.client';

export type NatsTransportOptions = NonNullable<NatsOptions['options']>;

export interface NatsMicroserviceOptions {
  readonly transport: Transport.NATS;
  readonly options: NatsTransportOptions;
}

/**
 * Reconnect for as long as it takes, like the process's own NATS connection: nats.js gives up after
 * 10 attempts 2 s apart by default, and a service whose connection gave up never answers again;
 * 250 ms between attempts brings a restarted broker back into use within a quarter second
 * (test/faults/broker-restart.e2e.ts: a 30 s broker outage).
 */
const RECONNECT_FOREVER: NatsTransportOptions = { maxReconnectAttempts: -1, reconnectTimeWait: 250 };

/**
 * Microservice options for a service listening on NATS. Every replica of a service joins the
 * queue group named after it, so each request is answered by exactly one replica.
 */
export function natsServerOptions(
  url: string,
  service?: string,
  overrides: NatsTransportOptions = {},
): NatsMicroserviceOptions {
  return {
    transport: Transport.NATS,
    options: {
      servers: [url],
      ...RECONNECT_FOREVER,
      ...(service ? { queue: service, name: service } : {}),
      ...overrides,
    },
  };
}

/** Client options for sending commands and queries over NATS. */
export function natsClientOptions(url: string, overrides: NatsTransportOptions = {}): NatsMicroserviceOptions {
  return { transport: Transport.NATS, options: { servers: [url], ...RECONNECT_FOREVER, ...overrides } };
}

/** Puts `prefix` in front of a route once (Nest normalises a pattern more than once per message). */
function prefixed(prefix: string, route: string): string {
  return !prefix || route.startsWith(prefix) ? route : `${prefix}${route}`;
}

/**
 * Nest's NATS server with every request subject under `prefix` (SCHEDSTACK_BUS_PREFIX), so several
 * installations — or parallel test stacks — can share one NATS server without answering each
 * other's requests. With an empty prefix it is exactly ServerNats.
 */
export class PrefixedServerNats extends ServerNats {
  constructor(
    options: NatsTransportOptions,
    private readonly prefix: string,
  ) {
    super(options);
  }

  override normalizePattern(pattern: Parameters<ServerNats['normalizePattern']>[0]): string {
    return prefixed(this.prefix, super.normalizePattern(pattern));
  }

  /** Every handler continues its sender's trace (SPEC §7), in a span named without the prefix. */
  override getHandlerByPattern(pattern: string): MessageHandler | null {
    const handler = super.getHandlerByPattern(pattern);
    const name = this.prefix && pattern.startsWith(this.prefix) ? pattern.slice(this.prefix.length) : pattern;
    return handler && withBusTrace(name, handler);
  }
}

/** The client side of PrefixedServerNats. */
export class PrefixedClientNats extends ClientNats {
  constructor(
    options: NatsTransportOptions,
    private readonly prefix: string,
  ) {
    super(options);
  }

  protected override normalizePattern(pattern: Parameters<ClientNats['normalizePattern']>[0]): string {
    return prefixed(this.prefix, super.normalizePattern(pattern));
  }
}

/** The microservice strategy a service listens with in the distributed profile. */
export function natsServerStrategy(url: string, service: string, prefix = ''): CustomStrategy {
  return { strategy: new PrefixedServerNats(natsServerOptions(url, service).options, prefix) };
}

/** The `BUS_CLIENT` of either profile: NATS in the distributed one, the in-process broker locally. */
export function createBusClient(kind: 'nats', url: string, prefix?: string): ClientProxy;
export function createBusClient(kind: 'in-process', broker: InProcessBroker): ClientProxy;
export function createBusClient(kind: 'nats' | 'in-process', target: string | InProcessBroker, prefix = ''): ClientProxy {
  if (kind === 'nats') {
    if (typeof target !== 'string') throw new TypeError('createBusClient: the NATS client needs a URL');
    return new PrefixedClientNats(natsClientOptions(target).options, prefix) as unknown as ClientProxy;
  }
  if (!(target instanceof InProcessBroker)) throw new TypeError('createBusClient: the in-process client needs a broker');
  return new InProcessClient(target);
}
