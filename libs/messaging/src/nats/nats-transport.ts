import { ClientProxy, ClientProxyFactory, NatsOptions, Transport } from '@nestjs/microservices';
import { InProcessBroker } from '../in-process/in-process.broker';
import { InProcessClient } from '../in-process/in-process.client';

export type NatsTransportOptions = NonNullable<NatsOptions['options']>;

export interface NatsMicroserviceOptions {
  readonly transport: Transport.NATS;
  readonly options: NatsTransportOptions;
}

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
      ...(service ? { queue: service, name: service } : {}),
      ...overrides,
    },
  };
}

/** Client options for sending commands and queries over NATS. */
export function natsClientOptions(url: string, overrides: NatsTransportOptions = {}): NatsMicroserviceOptions {
  return { transport: Transport.NATS, options: { servers: [url], ...overrides } };
}

/** The `BUS_CLIENT` of either profile: NATS in the distributed one, the in-process broker locally. */
export function createBusClient(kind: 'nats', url: string): ClientProxy;
export function createBusClient(kind: 'in-process', broker: InProcessBroker): ClientProxy;
export function createBusClient(kind: 'nats' | 'in-process', target: string | InProcessBroker): ClientProxy {
  if (kind === 'nats') {
    if (typeof target !== 'string') throw new TypeError('createBusClient: the NATS client needs a URL');
    return ClientProxyFactory.create(natsClientOptions(target));
  }
  if (!(target instanceof InProcessBroker)) throw new TypeError('createBusClient: the in-process client needs a broker');
  return new InProcessClient(target);
}
