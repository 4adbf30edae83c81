import { randomBytes } from 'node:crypto';
import { describeWithNats, natsUrl } from '@schedstack/testing';
import { InProcessBroker } from './in-process/in-process.broker';
import { InProcessClient } from './in-process/in-process.client';
import { InProcessServer } from './in-process/in-process.server';
import { createBusClient, natsServerOptions } from './nats/nats-transport';
import { contractPatterns, describeTransportContract } from './testing/transport.contract';

describeTransportContract(describe, 'in-process', contractPatterns('test'), () => {
  const broker = new InProcessBroker();
  return {
    serverOptions: () => ({ strategy: new InProcessServer(broker) }),
    createClient: () => new InProcessClient(broker),
  };
});

// Unique subjects and queue group: other suites and users share this NATS server.
const unique = `transport_${randomBytes(4).toString('hex')}`;
describeTransportContract(describeWithNats, 'nats', contractPatterns(`test.${unique}`), () => ({
  serverOptions: () => natsServerOptions(natsUrl(), unique),
  createClient: () => createBusClient('nats', natsUrl()),
}));

describe('InProcessServer', () => {
  it('unregisters its patterns on close, so requests fail instead of reaching a stopped service', async () => {
    const broker = new InProcessBroker();
    const server = new InProcessServer(broker);
    server.addHandler('svc.ping', async () => 'pong');
    server.listen(() => undefined);
    expect(broker.patterns()).toEqual(['svc.ping']);
    server.close();
    expect(broker.patterns()).toEqual([]);
  });
});
