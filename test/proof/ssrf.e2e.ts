import dns from 'node:dns';
import { readFileSync } from 'node:fs';
import { connect, createServer, isIP, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import * as path from 'node:path';
import type { DeliveryPolicy, DeliveryView } from '@schedstack/contracts';
import { FireLauncher } from '@schedstack/dispatcher-service';
import { type DispatchStack, eventually, startDispatchStack } from '../support';

/**
 * SPEC §4 outbound safety, the forms test/e2e/dispatcher.ssrf.e2e.ts does not probe (its own forms
 * are listed below and checked to still be there). A live-environment stack with loopback NOT
 * allowed (SCHEDSTACK_ALLOW_LOOPBACK=false; the local profile's default would allow it) and only
 * 127.0.0.2 allowlisted; a raw TCP listener on every address of this host on one port, so a
 * connection from the dispatcher to any local form would be counted, not only an HTTP request.
 * Host names are answered by a spy on dns.lookup, the resolver the outbound guard uses.
 */

/** dispatcher.ssrf.e2e.ts probes these already (each must still be there). */
const COVERED_ELSEWHERE: [string, string][] = [
  ['loopback 127.0.0.1', "'http://127.0.0.1:PORT/probe'"],
  ['IPv6 loopback ::1', "'http://[::1]:PORT/probe'"],
  ['IPv4-mapped ::ffff:127.0.0.1', "'http://[::ffff:127.0.0.1]:PORT/probe'"],
  ['decimal 2130706433', "'http://2130706433:PORT/probe'"],
  ['hex 0x7f000001', "'http://0x7f000001:PORT/probe'"],
  ['octal 0177.0.0.1', "'http://0177.0.0.1:PORT/probe'"],
  ['0.0.0.0', "'http://0.0.0.0:PORT/probe'"],
  ['localhost (a name resolving to loopback)', "'http://localhost:PORT/probe'"],
  ['private 10/8', "'http://10.0.0.1/probe'"],
  ['private 172.16/12', "'http://172.16.0.1/probe'"],
  ['private 192.168/16', "'http://192.168.0.1/probe'"],
  ['link-local 169.254/16', "'http://169.254.10.10/probe'"],
  ['cloud metadata 169.254.169.254', "'http://169.254.169.254/latest/meta-data/'"],
  ['IPv6 unique-local fc00::/7', "'http://[fc00::1]/probe'"],
  ['IPv6 link-local fe80::/10', "'http://[fe80::1]/probe'"],
  ['IPv6 cloud metadata fd00:ec2::254', "'http://[fd00:ec2::254]/latest/meta-data/'"],
  ['a redirect from an allowed target to loopback is not followed', 'does not follow a redirect to 127.0.0.1'],
  ['the metadata address through the public API with a live key', 'refuses the cloud metadata address for a schedule created with a live key through the API'],
];

/** What the spied resolver answers, lookup after lookup (the last answer repeats). */
const FAKE_DNS: Record<string, string[][]> = {
  'loopback.proof.invalid': [['127.0.0.1']],
  'v6-loopback.proof.invalid': [['::1']],
  'mapped.proof.invalid': [['::ffff:127.0.0.1']],
  'private.proof.invalid': [['10.1.2.3']],
  'metadata.google.internal': [['169.254.169.254']],
  'mixed.proof.invalid': [['93.184.216.34', '127.0.0.1']],
  // Rebinding: first the allowlisted 127.0.0.2 (standing in for a public address), then loopback.
  'rebinding.proof.invalid': [['127.0.0.2'], ['127.0.0.1']],
};

/** This host's own non-loopback addresses (a container's eth0, say): the listener hears them too. */
const OWN_ADDRESSES = Object.values(networkInterfaces())
  .flat()
  .filter((a) => a && !a.internal && !a.address.startsWith('fe80'))
  .map((a) => (a as { address: string }).address);

const PROBES: [string, string][] = [
  ['short dotted loopback 127.1', 'http://127.1:PORT/p'],
  ['three-part loopback 127.0.1', 'http://127.0.1:PORT/p'],
  ['loopback beyond 127.0.0.1: 127.53.1.9', 'http://127.53.1.9:PORT/p'],
  ['mixed hex and octal 0x7f.0.0.01', 'http://0x7f.0.0.01:PORT/p'],
  ['one octal number 017700000001', 'http://017700000001:PORT/p'],
  ['hex parts 0x7f.0x0.0x0.0x1', 'http://0x7f.0x0.0x0.0x1:PORT/p'],
  ['0 (0.0.0.0 shorthand)', 'http://0:PORT/p'],
  ['IPv4-mapped loopback in hex ::ffff:7f00:1', 'http://[::ffff:7f00:1]:PORT/p'],
  ['IPv6 loopback long form 0:0:0:0:0:0:0:1', 'http://[0:0:0:0:0:0:0:1]:PORT/p'],
  ['IPv6 unspecified ::', 'http://[::]:PORT/p'],
  ['IPv4-compatible (deprecated) ::127.0.0.1', 'http://[::127.0.0.1]:PORT/p'],
  ['NAT64 of loopback 64:ff9b::7f00:1', 'http://[64:ff9b::7f00:1]:PORT/p'],
  ['6to4 of loopback 2002:7f00:1::1', 'http://[2002:7f00:1::1]:PORT/p'],
  ['Teredo 2001:0::/32', 'http://[2001:0:4136:e378:8000:63bf:80ff:fffe]:PORT/p'],
  ['IPv4-mapped private ::ffff:10.0.0.1', 'http://[::ffff:10.0.0.1]/p'],
  ['IPv4-mapped metadata ::ffff:169.254.169.254', 'http://[::ffff:169.254.169.254]/latest/meta-data/'],
  ['metadata in decimal 2852039166', 'http://2852039166/latest/meta-data/'],
  ['metadata in hex 0xa9fea9fe', 'http://0xa9fea9fe/latest/meta-data/'],
  ['metadata with a trailing dot', 'http://169.254.169.254./latest/meta-data/'],
  ['Alibaba Cloud metadata 100.100.100.200', 'http://100.100.100.200/latest/meta-data/'],
  ['top of 10/8', 'http://10.255.255.255/p'],
  ['top of 172.16/12', 'http://172.31.255.255/p'],
  ['top of 192.168/16', 'http://192.168.255.255/p'],
  ['bottom of link-local 169.254.0.1', 'http://169.254.0.1/p'],
  ...OWN_ADDRESSES.map((a): [string, string] => [`this host's own address ${a}`, `http://${isIP(a) === 6 ? `[${a}]` : a}:PORT/p`]),
  ['a name answering 127.0.0.1', 'http://loopback.proof.invalid:PORT/p'],
  ['a name answering ::1', 'http://v6-loopback.proof.invalid:PORT/p'],
  ['a name answering ::ffff:127.0.0.1', 'http://mapped.proof.invalid:PORT/p'],
  ['a name answering a private address', 'http://private.proof.invalid/p'],
  ['metadata.google.internal answering 169.254.169.254', 'http://metadata.google.internal/computeMetadata/v1/'],
  ['a name answering a public and a loopback address', 'http://mixed.proof.invalid:PORT/p'],
];

/** A refused probe must not be retried; anything else ends quickly too. */
const QUICK: DeliveryPolicy = { max_attempts: 3, backoff: { initial_ms: 20, max_ms: 50 }, timeout_ms: 2_000 };

describe('SSRF forms beyond dispatcher.ssrf.e2e.ts: refused in live, and nothing connects', () => {
  let stack: DispatchStack;
  let listener: Server;
  let port: number;
  /** The local address of every TCP connection the listener accepted. */
  const connections: string[] = [];
  let baseline = 0;
  const lookups: Record<string, number> = {};
  const realLookup = dns.lookup;

  beforeAll(async () => {
    // Before the stack starts: the guard takes the resolver when the dispatcher builds its sender.
    jest.spyOn(dns, 'lookup').mockImplementation(((hostname: string, options: unknown, callback?: unknown) => {
      const answers = FAKE_DNS[hostname];
      if (!answers) return (realLookup as (...args: unknown[]) => void).call(dns, hostname, options, callback);
      const done = (typeof options === 'function' ? options : callback) as (...args: unknown[]) => void;
      const n = (lookups[hostname] = (lookups[hostname] ?? 0) + 1);
      const list = answers[Math.min(n, answers.length) - 1].map((address) => ({ address, family: isIP(address) }));
      const all = typeof options === 'object' && options !== null && (options as { all?: boolean }).all;
      process.nextTick(() => (all ? done(null, list) : done(null, list[0].address, list[0].family)));
    }) as unknown as typeof dns.lookup);
    listener = createServer((socket) => {
      connections.push((socket.localAddress ?? '').replace(/^::ffff:/, ''));
      socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen({ host: '::', port: 0, ipv6Only: false }, resolve);
    });
    port = (listener.address() as { port: number }).port;
    stack = await startDispatchStack('proof_ssrf', {
      SCHEDSTACK_ALLOW_LOOPBACK: 'false',
      SCHEDSTACK_OUTBOUND_ALLOWLIST: '127.0.0.2/32',
      // The spy on dns.lookup lives in this thread, so the guard runs here too: the same launcher,
      // sender and guard as on the sending threads (test/e2e/dispatcher.ssrf.e2e.ts covers those).
      SCHEDSTACK_DISPATCH_THREADS: '0',
    });
  }, 60_000);

  afterAll(async () => {
    jest.restoreAllMocks();
    await stack?.close();
    await new Promise((resolve) => listener?.close(resolve));
  });

  const endpoint = (template: string) => template.replace('PORT', String(port));

  it('guards on this thread, where the dns.lookup spy is (else every name below would fail to resolve, not be refused)', () => {
    expect(stack.launchPad).toBeInstanceOf(FireLauncher);
  });

  it('hears a direct connection to every local address it guards (so zero below means zero)', async () => {
    const targets = ['127.0.0.1', '::1', '127.53.1.9', '127.0.0.2', ...OWN_ADDRESSES];
    for (const host of targets) {
      await new Promise<void>((resolve, reject) => {
        const socket = connect({ host, port }, () => socket.end());
        socket.on('close', () => resolve());
        socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? resolve() : reject(error)));
      });
    }
    await eventually(async () => connections.length === targets.length);
    expect(connections.sort()).toEqual([...targets].sort());
    baseline = connections.length;
  });

  it.each(PROBES)('refuses %s as a permanent failure naming the reason, and nothing connects', async (_form, template) => {
    const { deliveryId } = await stack.plan('live', { endpoint: endpoint(template), policy: QUICK });
    const delivery = await stack.waitForDelivery('live', deliveryId, (d) => d.state === 'dead_lettered');
    expect(delivery.attempts).toEqual([
      expect.objectContaining({ n: 1, status_code: null, response_body: null, error: expect.stringMatching(/^endpoint_blocked: .+ address.*; an operator can allow it with SCHEDSTACK_OUTBOUND_ALLOWLIST$/) }),
    ]);
    expect(connections.slice(baseline)).toEqual([]);
  });

  it('catches DNS rebinding between attempts: reaches the allowed answer, then refuses the loopback one', async () => {
    const { deliveryId } = await stack.plan('live', { endpoint: endpoint('http://rebinding.proof.invalid:PORT/r'), policy: QUICK });
    const delivery = await stack.waitForDelivery('live', deliveryId, (d) => d.state === 'dead_lettered');
    const [first, second] = delivery.attempts;
    // The first answer was allowed: it connected (the listener hung up, a retriable failure).
    expect(first.error).not.toMatch(/endpoint_blocked/);
    expect(second.error).toBe(
      'endpoint_blocked: rebinding.proof.invalid resolves to a loopback address (127.0.0.1); an operator can allow it with SCHEDSTACK_OUTBOUND_ALLOWLIST',
    );
    expect(delivery.attempts).toHaveLength(2);
    expect(lookups['rebinding.proof.invalid']).toBe(2);
    expect(connections.slice(baseline)).toEqual(['127.0.0.2']);
    baseline = connections.length;
  });

  it('refuses a metadata host name given through the public API with a live key', async () => {
    const created = await stack.api('/v1/schedules', { key: stack.keys.live, body: { endpoint: 'http://metadata.google.internal/computeMetadata/v1/', delay: '1s' } });
    // Refusing it at creation would be as good; when it is accepted, the dispatcher must refuse it.
    expect([201, 400]).toContain(created.status);
    if (created.status === 201) {
      const delivery = await eventually(async () => {
        const res = await stack.api(`/v1/deliveries?schedule=${created.body.id}`, { key: stack.keys.live });
        return res.body.data[0]?.state === 'dead_lettered' ? (res.body.data[0] as DeliveryView) : undefined;
      });
      expect(delivery.attempts[0].error).toBe(
        'endpoint_blocked: metadata.google.internal resolves to a cloud metadata address (169.254.169.254); an operator can allow it with SCHEDSTACK_OUTBOUND_ALLOWLIST',
      );
    }
    expect(connections.slice(baseline)).toEqual([]);
  });

  it('leaves the forms dispatcher.ssrf.e2e.ts covers in that suite, which still probes each of them', () => {
    const suite = readFileSync(path.resolve(__dirname, '..', 'e2e', 'dispatcher.ssrf.e2e.ts'), 'utf8');
    expect(suite).toContain("SCHEDSTACK_ALLOW_LOOPBACK: 'false'");
    expect(COVERED_ELSEWHERE.filter(([, probe]) => !suite.includes(probe)).map(([form]) => form)).toEqual([]);
    // No form is probed twice.
    const here = new Set(PROBES.map(([, template]) => `'${template.replace('/p', '/probe')}'`));
    expect(COVERED_ELSEWHERE.filter(([, probe]) => here.has(probe))).toEqual([]);
  });
});
