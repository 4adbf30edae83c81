import { type Receiver, startReceiver } from '@schedstack/testing';
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type RequestListener } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { UndiciHttpSender } from './http-sender';
import { OutboundGuard } from './outbound-guard';

/** A sender that may reach this machine's loopback targets. */
const loopbackSender = (connections?: number) => new UndiciHttpSender({ guard: new OutboundGuard({ allowLoopback: true, allowlist: [] }), connections });

/** An HTTP target on 127.0.0.1 that `handler` answers; `close` drops its connections too. */
async function startTarget(handler: RequestListener): Promise<{ readonly url: string; readonly close: () => Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * SPEC §7: lag runs to when the request went out. In a burst a request can wait in the client for
 * a pooled connection; the sender reports that wait, so the engine's fired_at includes it.
 */
describe('UndiciHttpSender — time spent waiting for a connection', () => {
  let receiver: Receiver;
  let sender: UndiciHttpSender;

  beforeAll(async () => {
    receiver = await startReceiver();
    // The first request is held 300 ms: on a single connection the second cannot go out before.
    receiver.respondWith((_req, index) => ({ status: 200, body: 'ok', delayMs: index === 0 ? 300 : 0 }));
    sender = loopbackSender(1);
  });

  afterAll(async () => {
    await sender?.close();
    await receiver?.close();
  });

  it('reports how long a request queued behind another on the one connection, and not for the first', async () => {
    const send = (id: string) =>
      sender.send({ url: `${receiver.url}/queue`, method: 'POST', headers: { 'sched-delivery-id': id, 'sched-attempt': '1' }, body: '{}', timeoutMs: 10_000 });
    const [first, second] = await Promise.all([send('dlv_first'), send('dlv_second')]);

    expect(first).toMatchObject({ kind: 'response', status: 200 });
    expect(second).toMatchObject({ kind: 'response', status: 200 });
    // Causality, not speed: the second was written only after the first's 300 ms answer.
    expect(second.queuedMs).toBeGreaterThanOrEqual(290);
    expect(first.queuedMs ?? 0).toBeLessThan(second.queuedMs ?? 0);
    expect(receiver.requests.map((r) => r.headers['sched-delivery-id'])).toEqual(['dlv_first', 'dlv_second']);
  });

  it("starts an attempt's timeout once it has a connection, not while it waits for one of ours", async () => {
    // On the one connection, the first request is answered after 3 s; the second, allowed 2 s,
    // waits those 3 s for the connection and is then answered at once: a response, not a timeout.
    receiver.respondWith((req) => ({ status: 200, body: 'ok', delayMs: req.path === '/held' ? 3_000 : 0 }));
    try {
      const send = (path: string, timeoutMs: number) =>
        sender.send({ url: `${receiver.url}${path}`, method: 'POST', headers: { 'sched-delivery-id': `dlv_${path.slice(1)}`, 'sched-attempt': '1' }, body: '{}', timeoutMs });
      const [held, waited] = await Promise.all([send('/held', 10_000), send('/waited', 2_000)]);
      expect(held).toMatchObject({ kind: 'response', status: 200 });
      expect(waited).toMatchObject({ kind: 'response', status: 200 });
      // It did wait: its wait for the connection is part of its lag (SPEC §7), not of its timeout.
      expect(waited.queuedMs).toBeGreaterThan(2_000);
    } finally {
      receiver.respondWith(() => ({ status: 200, body: 'ok' }));
    }
  });

  it('asks the caller again when a waiting request gets its connection, and writes nothing it withholds', async () => {
    // On the one connection the first request is answered after 500 ms; the second and third wait for it.
    receiver.respondWith((req) => ({ status: 200, body: 'ok', delayMs: req.path === '/busy' ? 500 : 0 }));
    try {
      const before = receiver.requests.length;
      const asked: { path: string; received: number }[] = [];
      const request = (path: string) => ({ url: `${receiver.url}${path}`, method: 'POST', headers: { 'sched-delivery-id': `dlv_${path.slice(1)}`, 'sched-attempt': '1' }, body: '{}', timeoutMs: 10_000 });
      const askedFor = (path: string, answer: boolean) => () => {
        asked.push({ path, received: receiver.requests.length - before });
        return answer;
      };
      const [busy, withheld, next] = await Promise.all([
        sender.send(request('/busy')),
        sender.send(request('/withheld'), askedFor('/withheld', false)),
        sender.send(request('/next'), askedFor('/next', true)),
      ]);

      expect(busy).toMatchObject({ kind: 'response', status: 200 });
      expect(withheld).toEqual({ kind: 'withheld' });
      expect(next).toMatchObject({ kind: 'response', status: 200 });
      // Asked in turn, each once the one before had its connection back (the busy request already
      // received), not when handed over; the withheld one was never written and passed its turn on.
      expect(asked).toEqual([
        { path: '/withheld', received: 1 },
        { path: '/next', received: 1 },
      ]);
      expect(receiver.requests.slice(before).map((r) => r.path)).toEqual(['/busy', '/next']);
    } finally {
      receiver.respondWith(() => ({ status: 200, body: 'ok' }));
    }
  });

  it('reports nothing for a request it never wrote (refused by the guard)', async () => {
    const strict = new UndiciHttpSender({ guard: new OutboundGuard({ allowLoopback: false, allowlist: [] }) });
    try {
      const result = await strict.send({ url: `${receiver.url}/refused`, method: 'POST', headers: { 'sched-delivery-id': 'dlv_refused', 'sched-attempt': '1' }, body: null, timeoutMs: 5_000 });
      expect(result.kind).toBe('refused');
      expect(result.queuedMs).toBeUndefined();
    } finally {
      await strict.close();
    }
  });
});

/** SPEC §4 attempt timeout: the whole exchange, not only the wait for headers or between chunks. */
describe('UndiciHttpSender — attempt timeouts', () => {
  let target: Awaited<ReturnType<typeof startTarget>>;
  let sender: UndiciHttpSender;

  beforeAll(async () => {
    target = await startTarget((req, res) => {
      if (req.url === '/silent') return; // never answers
      if (req.url === '/fast') return void res.end('done');
      // Headers at once, then a byte every 100 ms: neither undici's headers nor its body timeout
      // (300 ms each) ever runs out, only the deadline of the exchange as a whole.
      res.writeHead(200, { 'content-type': 'text/plain' });
      const drip = setInterval(() => res.write('.'), 100);
      res.on('close', () => clearInterval(drip));
    });
    sender = loopbackSender();
  });

  afterAll(async () => {
    await sender.close().catch(() => undefined);
    await target.close();
  });

  const send = (path: string, timeoutMs = 300) => sender.send({ url: `${target.url}${path}`, method: 'POST', headers: {}, body: '{}', timeoutMs });

  // Both were written, so each reports when (its fired_at), timed out or not.
  it('times out a target that never answers', async () => {
    expect(await send('/silent')).toEqual({ kind: 'timeout', error: 'timeout: no response within 300 ms', queuedMs: expect.any(Number) });
  });

  it('times out a body that keeps trickling past the deadline', async () => {
    expect(await send('/drip')).toEqual({ kind: 'timeout', error: 'timeout: no response within 300 ms', queuedMs: expect.any(Number) });
  });

  it('does not abort an exchange that ended in time, however long the sender lives on', async () => {
    const answers = await Promise.all([send('/fast'), send('/fast', 1_000), send('/fast', 300)]);
    expect(answers.map((a) => a.kind === 'response' && a.body)).toEqual(['done', 'done', 'done']);
    // Past every deadline: nothing is left to sweep (a completed request is forgotten at once).
    await new Promise((r) => setTimeout(r, 1_100));
    expect(sender['deadlines']['byTimeout'].size).toBe(0);
  });
});

/**
 * A connect slower than undici's default connect timeout (10 s) still fits the attempt's own
 * deadline: the receiver's accept queue is full (its process is stalled), so the kernel drops the
 * sender's SYN and resends it after 1, 3, 7 and 15 s. Takes ~15 s.
 */
describe('UndiciHttpSender — a connect that waits for a stalled receiver', () => {
  let receiver: ChildProcess;
  let port: number;
  let awake = false;
  const fillers: Socket[] = [];

  beforeAll(async () => {
    // The receiver listens with the smallest accept queue, then stalls its only thread for 15 s
    // (Atomics.wait: no CPU) before it accepts and answers.
    const script = `
      const http = require('node:http');
      const server = http.createServer((req, res) => req.resume().on('end', () => res.end('late but here')));
      server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
        process.stdout.write(server.address().port + '\\n');
        setTimeout(() => {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 15000);
          process.stdout.write('awake\\n');
        }, 100);
      });`;
    receiver = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    port = await new Promise<number>((resolve) => receiver.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    receiver.stdout?.on('data', (d: Buffer) => (awake ||= d.toString().includes('awake')));
    await new Promise((r) => setTimeout(r, 500));
    // Fill the accept queue: connects complete until it is full, then one hangs (its SYN dropped).
    for (let i = 0; i < 8; i++) {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      fillers.push(socket);
      const connected = await new Promise<boolean>((resolve) => {
        socket.once('connect', () => resolve(true));
        setTimeout(() => resolve(false), 300);
      });
      if (!connected) return;
    }
    throw new Error('the accept queue never filled up');
  }, 30_000);

  afterAll(() => {
    for (const socket of fillers) socket.destroy();
    receiver?.kill('SIGKILL');
  });

  it('times the attempt out at its own deadline while the connect still waits', async () => {
    const sender = loopbackSender();
    try {
      const result = await sender.send({ url: `http://127.0.0.1:${port}/short-deadline`, method: 'POST', headers: {}, body: '{}', timeoutMs: 1_000 });
      expect(result).toEqual({ kind: 'timeout', error: 'timeout: no response within 1000 ms' });
      // Answered at the deadline, not once the connect got through (undici aborts only then).
      expect(awake).toBe(false);
    } finally {
      await sender.close();
    }
  });

  it('gets the answer once the receiver accepts, instead of failing the attempt at 10 s', async () => {
    const sender = loopbackSender();
    try {
      const result = await sender.send({ url: `http://127.0.0.1:${port}/slow-accept`, method: 'POST', headers: {}, body: '{}', timeoutMs: 60_000 });
      expect(result).toMatchObject({ kind: 'response', status: 200, body: 'late but here' });
    } finally {
      await sender.close();
    }
  }, 90_000);
});

/** SPEC §4: an attempt records the status, the headers and the first 4 KiB of the body. */
describe('UndiciHttpSender — what an attempt records', () => {
  const clientPorts: number[] = [];
  let target: Awaited<ReturnType<typeof startTarget>>;
  let sender: UndiciHttpSender;

  beforeAll(async () => {
    target = await startTarget((req, res) => {
      clientPorts.push(req.socket.remotePort ?? 0);
      if (req.url === '/whole-5k') return void res.end('x'.repeat(5_120));
      if (req.url === '/large') {
        res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '7' });
        // 10 KiB in three writes: the excerpt spans chunks and stops at 4 KiB.
        res.write('a'.repeat(3_000));
        res.write('b'.repeat(3_000));
        return void res.end('c'.repeat(4_240));
      }
      res.writeHead(201, { 'set-cookie': ['a=1', 'b=2'] });
      res.end(JSON.stringify({ path: req.url }));
    });
    sender = loopbackSender();
  });

  afterAll(async () => {
    await sender.close().catch(() => undefined);
    await target.close();
  });

  const send = (path: string) => sender.send({ url: `${target.url}${path}`, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', timeoutMs: 5_000 });

  it('keeps the first 4 KiB of a larger body, with the status and headers', async () => {
    const result = await send('/large');
    expect(result).toMatchObject({ kind: 'response', status: 503, headers: { 'retry-after': '7' } });
    expect(result.kind === 'response' && result.body).toBe(`${'a'.repeat(3_000)}${'b'.repeat(1_096)}`);
  });

  it('answers with the whole of a small body, repeated headers as lists, and the path and query as given', async () => {
    const result = await send('/small?x=1');
    expect(result).toMatchObject({ kind: 'response', status: 201, body: '{"path":"/small?x=1"}', headers: { 'set-cookie': ['a=1', 'b=2'] } });
  });

  it('keeps the connection of a body longer than the excerpt that arrived whole, for the next request', async () => {
    clientPorts.length = 0;
    const first = await send('/whole-5k');
    // undici hands a connection back to its pool a few turns of the loop after the response ends.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = await send('/whole-5k');
    expect([first, second].map((r) => r.kind === 'response' && r.body.length)).toEqual([4096, 4096]);
    expect(clientPorts).toHaveLength(2);
    expect(clientPorts[1]).toBe(clientPorts[0]);
  });

  it('reports a refused connection as a network error, not as written', async () => {
    const closed = await startTarget(() => undefined);
    await closed.close();
    const result = await sender.send({ url: `${closed.url}/`, method: 'POST', headers: {}, body: null, timeoutMs: 5_000 });
    expect(result).toEqual({ kind: 'network_error', error: expect.stringContaining('ECONNREFUSED') });
  });
});
