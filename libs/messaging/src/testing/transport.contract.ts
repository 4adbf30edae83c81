import { Controller, INestMicroservice, Type } from '@nestjs/common';
import {
  ClientProxy,
  EventPattern,
  MessagePattern,
  MicroserviceOptions,
  Payload,
  RpcException,
} from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { TRACE_CONTEXT_FIELD } from '../bus-trace';
import { firstValueFrom, interval, lastValueFrom, map, Observable, take, timeout, toArray } from 'rxjs';

/**
 * The one contract both bus transports (NATS and in-process) pass, so the local profile runs the
 * same `@MessagePattern` handlers and `ClientProxy.send()` calls as the distributed one.
 */
export interface TransportUnderTest {
  /** How the server side listens: `{ strategy }` or Transport.NATS options. */
  serverOptions(): MicroserviceOptions;
  createClient(): ClientProxy;
}

export interface ContractPatterns {
  readonly echo: string;
  readonly add: string;
  readonly promise: string;
  readonly observable: string;
  readonly notFound: string;
  readonly crash: string;
  readonly event: string;
  readonly unknown: string;
  readonly traced: string;
}

/** `prefix` keeps the subjects of parallel runs on a shared NATS apart. */
export function contractPatterns(prefix: string): ContractPatterns {
  return {
    echo: `${prefix}.echo`,
    add: `${prefix}.add`,
    promise: `${prefix}.promise`,
    observable: `${prefix}.observable`,
    notFound: `${prefix}.not_found`,
    crash: `${prefix}.crash`,
    event: `${prefix}.event`,
    unknown: `${prefix}.nobody_listens`,
    traced: `${prefix}.traced`,
  };
}

export const RESOURCE_MISSING = {
  status: 404,
  type: 'invalid_request_error',
  code: 'resource_missing',
  message: 'x',
} as const;

interface ControllerState {
  readonly events: unknown[];
}

function createTestController(p: ContractPatterns, state: ControllerState): Type<unknown> {
  @Controller()
  class TransportContractController {
    @MessagePattern(p.echo)
    echo(@Payload() data: unknown): unknown {
      return data;
    }

    @MessagePattern(p.add)
    add(@Payload() data: { a: number; b: number }): number {
      return data.a + data.b;
    }

    @MessagePattern(p.promise)
    async promise(@Payload() data: { value: string }): Promise<{ value: string; at: string }> {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { value: data.value.toUpperCase(), at: 'later' };
    }

    @MessagePattern(p.observable)
    observable(@Payload() data: { count: number }): Observable<number> {
      return interval(2).pipe(
        take(data.count),
        map((i) => i + 1),
      );
    }

    @MessagePattern(p.notFound)
    notFound(): never {
      throw new RpcException({ ...RESOURCE_MISSING });
    }

    @MessagePattern(p.crash)
    crash(): never {
      throw new Error('secret internal detail');
    }

    @MessagePattern(p.traced)
    async traced(@Payload() data: Record<string, unknown>): Promise<{ traceId?: string; carrierLeft: boolean }> {
      // After an await, as a real handler's work is: the context must have come along.
      await new Promise((resolve) => setTimeout(resolve, 1));
      return { traceId: trace.getActiveSpan()?.spanContext().traceId, carrierLeft: TRACE_CONTEXT_FIELD in data };
    }

    @EventPattern(p.event)
    onEvent(@Payload() data: unknown): void {
      state.events.push(data);
    }
  }
  return TransportContractController;
}

const REPLY_TIMEOUT_MS = 5000;
let tracingRegistered = false;
const spans = new InMemorySpanExporter();
/** The finished server span of `pattern` (named without a transport's subject prefix). */
const serverSpan = (pattern: string) => spans.getFinishedSpans().find((s) => pattern.endsWith(s.name));

function errorOf(source: Observable<unknown>): Promise<unknown> {
  return firstValueFrom(source.pipe(timeout(REPLY_TIMEOUT_MS))).then(
    (value) => {
      throw new Error(`expected an error, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );
}

export function describeTransportContract(
  describeFn: jest.Describe,
  name: string,
  patterns: ContractPatterns,
  setup: () => TransportUnderTest,
): void {
  describeFn(`bus transport contract: ${name}`, () => {
    const state: ControllerState = { events: [] };
    let app: INestMicroservice;
    let client: ClientProxy;

    const send = <T>(pattern: string, data: unknown): Promise<T> =>
      firstValueFrom(client.send<T>(pattern, data).pipe(timeout(REPLY_TIMEOUT_MS)));

    beforeAll(async () => {
      // W3C propagation and async-local context, as startTelemetry gives the product.
      if (!tracingRegistered) {
        new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }).register();
        tracingRegistered = true;
      }
      const transport = setup();
      const moduleRef = await Test.createTestingModule({
        controllers: [createTestController(patterns, state)],
      }).compile();
      app = moduleRef.createNestMicroservice<MicroserviceOptions>({ ...transport.serverOptions(), logger: false });
      await app.listen();
      client = transport.createClient();
      await client.connect();
    });

    afterAll(async () => {
      await client?.close();
      await app?.close();
    });

    it('answers a request with the handler result', async () => {
      await expect(send(patterns.echo, { hello: 'world' })).resolves.toEqual({ hello: 'world' });
      await expect(send(patterns.add, { a: 2, b: 3 })).resolves.toBe(5);
    });

    it('carries nested payloads with JSON semantics both ways', async () => {
      const payload = {
        id: 'sch_1',
        request: { method: 'POST', headers: { 'x-a': '1' }, body: null },
        list: [1, 'two', { three: [3] }],
        when: new Date('2030-01-01T00:00:00.000Z'),
        dropped: undefined,
      };
      const echoed = await send<Record<string, unknown>>(patterns.echo, payload);
      expect(echoed).toEqual(JSON.parse(JSON.stringify(payload)));
      expect(echoed.when).toBe('2030-01-01T00:00:00.000Z');
      expect('dropped' in echoed).toBe(false);
    });

    it('resolves handlers that return a Promise', async () => {
      await expect(send(patterns.promise, { value: 'abc' })).resolves.toEqual({ value: 'ABC', at: 'later' });
    });

    it('streams every value of a handler that returns an Observable, then completes', async () => {
      const values = await lastValueFrom(
        client.send<number>(patterns.observable, { count: 4 }).pipe(toArray(), timeout(REPLY_TIMEOUT_MS)),
      );
      expect(values).toEqual([1, 2, 3, 4]);
      await expect(send(patterns.observable, { count: 3 })).resolves.toBe(1);
    });

    it('errors with the exact object given to RpcException', async () => {
      const error = await errorOf(client.send(patterns.notFound, {}));
      expect(error).toEqual(RESOURCE_MISSING);
    });

    it('hides unexpected exceptions behind a generic error', async () => {
      const error = await errorOf(client.send(patterns.crash, {}));
      expect(error).toEqual({ status: 'error', message: 'Internal server error' });
    });

    it('answers 100 concurrent requests, each with its own result', async () => {
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) => send<number>(patterns.add, { a: i, b: 1000 })),
      );
      expect(results).toEqual(Array.from({ length: 100 }, (_, i) => i + 1000));
    });

    it('errors when no handler exists for the pattern', async () => {
      const error = await errorOf(client.send(patterns.unknown, { any: 1 }));
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(
        /There is no matching message handler defined in the remote service|There are no subscribers listening/,
      );
    });

    it('fails a request whose payload JSON cannot encode', async () => {
      const error = await errorOf(client.send(patterns.echo, { amount: 10n }));
      expect(error).toBeInstanceOf(Error);
      expect(error).toMatchObject({ message: 'Bad JSON', code: 'BAD_JSON' });
    });

    it("continues the sender's trace in the handler and hands it the payload without the carrier", async () => {
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const answer = await send<{ traceId?: string; carrierLeft: boolean }>(patterns.traced, {
        order: 1,
        [TRACE_CONTEXT_FIELD]: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      });
      expect(answer).toEqual({ traceId, carrierLeft: false });
      expect(serverSpan(patterns.traced)?.spanContext().traceId).toBe(traceId);
    });

    it('ends the server span of a failed request as an error, and of a stream when it completes', async () => {
      spans.reset();
      await errorOf(client.send(patterns.crash, {}));
      expect(serverSpan(patterns.crash)?.status.code).toBe(SpanStatusCode.ERROR);
      await lastValueFrom(client.send<number>(patterns.observable, { count: 3 }).pipe(toArray(), timeout(REPLY_TIMEOUT_MS)));
      expect(serverSpan(patterns.observable)?.status.code).not.toBe(SpanStatusCode.ERROR);
    });

    it('delivers events to @EventPattern handlers', async () => {
      await lastValueFrom(client.emit(patterns.event, { n: 1, nested: { ok: true } }), { defaultValue: undefined });
      const deadline = Date.now() + REPLY_TIMEOUT_MS;
      while (state.events.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(state.events).toEqual([{ n: 1, nested: { ok: true } }]);
    });
  });
}
