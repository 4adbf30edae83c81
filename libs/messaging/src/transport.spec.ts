import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { firstValueFrom } from 'rxjs';
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
  it('answers a response JSON cannot encode with an error instead of leaving the caller waiting', async () => {
    const broker = new InProcessBroker();
    const server = new InProcessServer(broker);
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    server.addHandler('svc.amount', async () => ({ amount: 10n }));
    server.listen(() => undefined);
    try {
      const error = await firstValueFrom(new InProcessClient(broker).send('svc.amount', {})).catch((e: unknown) => e);
      expect(error).toEqual({ status: 'error', message: 'Response could not be serialised: Do not know how to serialize a BigInt' });
      expect(logged).toHaveBeenCalled();
    } finally {
      server.close();
      logged.mockRestore();
    }
  });

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
