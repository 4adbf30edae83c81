import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { firstValueFrom } from 'rxjs';
import { describeWithNats, natsUrl } from '@schedstack/testing';
import { InProcessBroker } from './in-process/in-process.broker';
import { InProcessClient } from './in-process/in-process.client';
import { InProcessServer } from './in-process/in-process.server';
import { NestFactory } from '@nestjs/core';
import { Controller, Module } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { createBusClient, natsServerStrategy } from './nats/nats-transport';
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
describeTransportContract(describeWithNats, 'nats (with a subject prefix)', contractPatterns('test'), () => ({
  serverOptions: () => natsServerStrategy(natsUrl(), unique, `${unique}.`),
  createClient: () => createBusClient('nats', natsUrl(), `${unique}.`),
}));

@Controller()
class PingController {
  @MessagePattern('svc.ping')
  ping() {
    return 'pong';
  }
}

@Module({ controllers: [PingController] })
class PingModule {}

describeWithNats('NATS subject prefixes', () => {
  it('keep two installations on one NATS server from answering each other', async () => {
    const prefix = `${unique}_a.`;
    const app = await NestFactory.createMicroservice(PingModule, { ...natsServerStrategy(natsUrl(), 'ping', prefix), logger: false });
    await app.listen();
    const same = createBusClient('nats', natsUrl(), prefix);
    const other = createBusClient('nats', natsUrl(), `${unique}_b.`);
    try {
      await expect(firstValueFrom(same.send('svc.ping', {}))).resolves.toBe('pong');
      await expect(firstValueFrom(other.send('svc.ping', {}))).rejects.toBeDefined();
    } finally {
      await same.close();
      await other.close();
      await app.close();
    }
  });
});

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
