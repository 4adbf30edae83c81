import { SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { request as httpRequest } from 'node:http';
import * as net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { addSpanExporter } from '@schedstack/runtime';
import { type Receiver, startReceiver } from '@schedstack/testing';
import { eventually, startLocalStack, type TestStack } from '../support';

describe('OpenTelemetry traces (SPEC §7, local profile, in-memory exporter)', () => {
  const exporter = new InMemorySpanExporter();
  let stack: TestStack;
  let receiver: Receiver;
  const spans = () => exporter.getFinishedSpans();
  const named = (name: string) => spans().filter((s) => s.name === name);

  beforeAll(async () => {
    addSpanExporter(exporter);
    stack = await startLocalStack('tracing');
    receiver = await startReceiver();
  });

  afterAll(async () => {
    await receiver?.close();
    await stack?.close();
  });

  it('gives a create-schedule request one trace across the gateway and the schedules service', async () => {
    exporter.reset();
    const res = await stack.api('/v1/schedules', { key: stack.keys.test, body: { endpoint: `${receiver.url}/traced`, delay: '1h' } });
    expect(res.status).toBe(201);
    const http = await eventually(async () => named('POST /v1/schedules')[0]);
    const client = named('send schedules.create').find((s) => s.spanContext().traceId === http.spanContext().traceId);
    const server = named('schedules.create').find((s) => s.spanContext().traceId === http.spanContext().traceId);
    expect(client).toBeDefined();
    expect(server).toBeDefined();
    expect(client?.parentSpanContext?.spanId).toBe(http.spanContext().spanId);
    expect(server?.parentSpanContext?.spanId).toBe(client?.spanContext().spanId);
    expect(http.attributes['http.response.status_code']).toBe(201);
  });

  it('keeps the trace when the body arrives after the headers (the body parser resumes on a socket event)', async () => {
    exporter.reset();
    const body = JSON.stringify({ endpoint: `${receiver.url}/slow-body`, delay: '1h' });
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${stack.url}/v1/schedules`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.keys.test}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      // Headers go out now; the body only once the gateway has run its middleware up to the parser.
      req.flushHeaders();
      void sleep(100).then(() => req.end(body));
    });
    expect(status).toBe(201);
    const server = await eventually(async () => named('POST /v1/schedules')[0]);
    const client = named('send schedules.create').find((s) => s.spanContext().traceId === server.spanContext().traceId);
    expect(client?.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
  });

  it('ends the server span as an error when the client goes away in the middle of the body', async () => {
    exporter.reset();
    const { hostname, port } = new URL(stack.url);
    const socket = net.connect(Number(port), hostname);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`POST /v1/schedules HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${stack.keys.test}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"endpoint":`);
    await sleep(100);
    socket.destroy();
    const span = await eventually(async () => named('POST /v1/schedules')[0]);
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes['http.response.status_code']).toBeUndefined();
  });

  it('continues the trace of the creating request into the dispatch span (gateway → schedules → dispatcher)', async () => {
    exporter.reset();
    const res = await stack.api('/v1/schedules', { key: stack.keys.test, body: { endpoint: `${receiver.url}/traced-fire`, delay: '1s' } });
    expect(res.status).toBe(201);
    const http = await eventually(async () => named('POST /v1/schedules')[0]);
    const dispatch: ReadableSpan = await eventually(async () => named('dispatch')[0], 20_000);
    expect(dispatch.spanContext().traceId).toBe(http.spanContext().traceId);
  });

  it.each([
    ['live', true],
    ['test', false],
  ] as const)('records a dispatch span for a %s first attempt with the SPEC §7 attributes', async (environment, eligible) => {
    const res = await stack.api('/v1/schedules', { key: stack.keys[environment], body: { endpoint: `${receiver.url}/fire-${environment}`, delay: '1s' } });
    expect(res.status).toBe(201);
    const span: ReadableSpan = await eventually(async () => named('dispatch').find((s) => s.attributes['sched.environment'] === environment), 20_000);
    expect(span.attributes).toMatchObject({ 'sched.environment': environment, 'sched.fire_kind': 'first', 'sched.slo_eligible': eligible, 'http.response.status_code': 200 });
    expect(typeof span.attributes['sched.lag_ms']).toBe('number');
  });
});
