import { Controller, Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, type MicroserviceOptions } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import { InProcessBroker } from './in-process.broker';
import { InProcessClient } from './in-process.client';
import { InProcessServer } from './in-process.server';

@Controller()
class RoutesController {
  @MessagePattern('svc.plain')
  plain(data: { n: number }) {
    return data.n + 1;
  }

  @MessagePattern({ cmd: 'sum', v: 2 })
  sum(data: number[]) {
    return data.reduce((a, b) => a + b, 0);
  }
}

@Module({ controllers: [RoutesController] })
class RoutesModule {}

describe('InProcessServer routing', () => {
  const broker = new InProcessBroker();
  const client = new InProcessClient(broker);
  let app: Awaited<ReturnType<typeof NestFactory.createMicroservice>>;

  beforeAll(async () => {
    app = await NestFactory.createMicroservice<MicroserviceOptions>(RoutesModule, { strategy: new InProcessServer(broker), logger: new Logger() });
    await app.listen();
  });

  afterAll(async () => {
    await client.close();
    await app.close();
  });

  it('routes plain and object patterns to their handlers, message after message', async () => {
    for (let i = 0; i < 3; i++) {
      await expect(firstValueFrom(client.send('svc.plain', { n: i }))).resolves.toBe(i + 1);
      // An object pattern arrives as its JSON route, with the keys in either order.
      await expect(firstValueFrom(client.send({ v: 2, cmd: 'sum' }, [i, 1, 2]))).resolves.toBe(i + 3);
    }
  });
});
