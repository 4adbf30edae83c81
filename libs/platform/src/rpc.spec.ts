import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, type MicroserviceOptions } from '@nestjs/microservices';
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { ApiError } from '@schedstack/contracts';
import { InProcessBroker, InProcessClient, InProcessServer } from '@schedstack/messaging';
import { BusController, request } from './rpc';

@BusController()
class ProbeController {
  @MessagePattern('probe.database-down')
  databaseDown(): never {
    throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
  }

  @MessagePattern('probe.bug')
  bug(): never {
    throw new TypeError("Cannot read properties of undefined (reading 'id')");
  }

  @MessagePattern('probe.ok')
  ok(): { ok: true } {
    return { ok: true };
  }
}

@Module({ controllers: [ProbeController] })
class ProbeModule {}

describe('a BusController over the in-process bus: what every service handler gets (SPEC §7, §8)', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const broker = new InProcessBroker();
  const client = new InProcessClient(broker);
  let app: Awaited<ReturnType<typeof NestFactory.createMicroservice>>;

  beforeAll(async () => {
    provider.register();
    app = await NestFactory.createMicroservice<MicroserviceOptions>(ProbeModule, { strategy: new InProcessServer(broker), logger: false });
    await app.listen();
  });

  afterAll(async () => {
    await client.close();
    await app.close();
    await provider.shutdown();
  });

  it('answers 503 service_unavailable when the handler lost its database or broker, so the caller retries', async () => {
    const failure = await request(client, 'probe.database-down', {}).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApiError);
    expect((failure as ApiError).body).toMatchObject({ status: 503, type: 'api_error', code: 'service_unavailable' });
  });

  it('answers a generic 500 for any other error, without its message', async () => {
    const failure = await request(client, 'probe.bug', {}).catch((error: unknown) => error);
    expect((failure as ApiError).body).toMatchObject({ status: 500, code: 'internal_error' });
    expect((failure as ApiError).body.message).not.toContain('Cannot read');
  });

  it("continues the caller's trace in a server span named after the pattern", async () => {
    exporter.reset();
    const answer = trace.getTracer('rpc.spec').startActiveSpan('outer', (outer) => request(client, 'probe.ok', {}).finally(() => outer.end()));
    await expect(answer).resolves.toEqual({ ok: true });
    const spans = exporter.getFinishedSpans();
    const outer = spans.find((s) => s.name === 'outer');
    const send = spans.find((s) => s.name === 'send probe.ok');
    const server = spans.find((s) => s.name === 'probe.ok');
    expect(send?.parentSpanContext?.spanId).toBe(outer?.spanContext().spanId);
    expect(server?.parentSpanContext?.spanId).toBe(send?.spanContext().spanId);
    expect(server?.spanContext().traceId).toBe(outer?.spanContext().traceId);
  });
});
