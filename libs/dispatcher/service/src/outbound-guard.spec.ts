import type { LookupAddress } from 'node:dns';
import { ConfigError } from '@schedstack/platform';
import { type Receiver, startReceiver } from '@schedstack/testing';
import { UndiciHttpSender } from './http-sender';
import { type LookupFunction, OutboundGuard } from './outbound-guard';

const strict = new OutboundGuard({ allowLoopback: false, allowlist: [] });

/** A resolver that answers from a table, as a DNS server under someone else's control might. */
function fakeDns(table: Record<string, string[]>): LookupFunction {
  return (hostname, _options, callback) => {
    const answers = table[hostname];
    if (!answers) return callback(Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
    callback(null, answers.map((address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 })));
  };
}

describe('outbound guard: which addresses are refused', () => {
  it.each([
    ['127.0.0.1', 'a loopback'],
    ['127.8.9.10', 'a loopback'],
    ['10.1.2.3', 'a private'],
    ['172.16.0.1', 'a private'],
    ['172.31.255.254', 'a private'],
    ['192.168.1.1', 'a private'],
    ['169.254.1.1', 'a link-local'],
    ['169.254.169.254', 'a cloud metadata'],
    ['100.64.0.1', 'a carrier-grade NAT'],
    ['224.0.0.1', 'a multicast'],
    ['0.0.0.0', 'an unspecified'],
    ['0.1.2.3', 'an unspecified'],
    ['255.255.255.255', 'a broadcast'],
    ['::1', 'a loopback'],
    ['::', 'an unspecified'],
    ['fc00::1', 'a unique-local'],
    ['fd12:3456::1', 'a unique-local'],
    ['fd00:ec2::254', 'a cloud metadata'],
    ['fe80::1', 'a link-local'],
    ['ff02::1', 'a multicast'],
    ['::ffff:127.0.0.1', 'a loopback'],
    ['::ffff:10.0.0.1', 'a private'],
    ['::ffff:a9fe:a9fe', 'a cloud metadata'],
  ])('refuses %s as %s', (address, what) => {
    expect(strict.refusal(address, address)).toContain(`is ${what} address`);
  });

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '::ffff:8.8.8.8'])('allows public %s', (address) => {
    expect(strict.refusal(address, address)).toBeNull();
  });

  it('names the host and the address it resolved to', () => {
    expect(strict.refusal('internal.example', '10.0.0.7')).toBe(
      'endpoint_blocked: internal.example resolves to a private address (10.0.0.7); an operator can allow it with SCHEDSTACK_OUTBOUND_ALLOWLIST',
    );
  });

  it('allows loopback, and only loopback, when the profile allows it', () => {
    const local = new OutboundGuard({ allowLoopback: true, allowlist: [] });
    expect(local.refusal('127.0.0.1', '127.0.0.1')).toBeNull();
    expect(local.refusal('::1', '::1')).toBeNull();
    expect(local.refusal('::ffff:127.0.0.1', '::ffff:127.0.0.1')).toBeNull();
    expect(local.refusal('10.0.0.1', '10.0.0.1')).not.toBeNull();
    expect(local.refusal('169.254.169.254', '169.254.169.254')).not.toBeNull();
  });

  it('lets the operator allowlist CIDRs, single addresses and host names', () => {
    const guard = new OutboundGuard({ allowLoopback: false, allowlist: ['10.20.0.0/16', '192.168.7.7', 'fd00::/8', 'hooks.internal', '*.corp.example'] });
    expect(guard.refusal('10.20.3.4', '10.20.3.4')).toBeNull();
    expect(guard.refusal('10.21.0.1', '10.21.0.1')).not.toBeNull();
    expect(guard.refusal('192.168.7.7', '192.168.7.7')).toBeNull();
    expect(guard.refusal('x', 'fd00::5')).toBeNull();
    expect(guard.refusal('hooks.internal', '10.9.9.9')).toBeNull();
    expect(guard.refusal('a.b.corp.example', '127.0.0.1')).toBeNull();
    expect(guard.refusal('corp.example.evil', '127.0.0.1')).not.toBeNull();
  });

  it('fails fast on an allowlist entry it cannot read', () => {
    expect(() => new OutboundGuard({ allowLoopback: false, allowlist: ['10.0.0.0/99'] })).toThrow(ConfigError);
    expect(() => new OutboundGuard({ allowLoopback: false, allowlist: ['not a host'] })).toThrow(ConfigError);
  });
});

describe('outbound guard: real requests never reach a refused address', () => {
  let receiver: Receiver;
  let port: string;
  const senders: UndiciHttpSender[] = [];
  const sender = (options: ConstructorParameters<typeof OutboundGuard>[0], table: Record<string, string[]> = {}) => {
    const s = new UndiciHttpSender({ guard: new OutboundGuard(options), lookup: fakeDns(table) });
    senders.push(s);
    return s;
  };
  const send = (s: UndiciHttpSender, url: string) => s.send({ url, method: 'POST', headers: {}, body: 'x', timeoutMs: 2_000 });

  beforeAll(async () => {
    receiver = await startReceiver();
    port = new URL(receiver.url).port;
  });
  afterAll(async () => {
    await Promise.all(senders.map((s) => s.close()));
    await receiver.close();
  });

  it.each([
    ['loopback', 'http://127.0.0.1:PORT/'],
    ['IPv6 loopback', 'http://[::1]:PORT/'],
    ['IPv4-mapped loopback', 'http://[::ffff:127.0.0.1]:PORT/'],
    ['decimal IPv4', 'http://2130706433:PORT/'],
    ['hex IPv4', 'http://0x7f000001:PORT/'],
    ['octal IPv4', 'http://0177.0.0.1:PORT/'],
    ['short IPv4', 'http://127.1:PORT/'],
    ['0.0.0.0', 'http://0.0.0.0:PORT/'],
    ['private', 'http://10.0.0.1:PORT/'],
    ['cloud metadata', 'http://169.254.169.254/latest/meta-data/'],
    ['CGNAT', 'http://100.64.0.1:PORT/'],
    ['multicast', 'http://224.0.0.1:PORT/'],
    ['broadcast', 'http://255.255.255.255:PORT/'],
    ['IPv6 unique-local', 'http://[fc00::1]:PORT/'],
    ['IPv6 link-local', 'http://[fe80::1]:PORT/'],
    ['IPv6 multicast', 'http://[ff02::1]:PORT/'],
    ['a name resolving to loopback', 'http://localhost:PORT/'],
  ])('refuses %s without connecting', async (_what, template) => {
    const result = await send(sender({ allowLoopback: false, allowlist: [] }, { localhost: ['127.0.0.1'] }), template.replace('PORT', port));
    expect(result.kind).toBe('refused');
    expect((result as { error: string }).error).toMatch(/^endpoint_blocked: /);
    expect(receiver.requests).toHaveLength(0);
  });

  it('refuses a host name whose DNS answer is private, checked at connect time', async () => {
    const result = await send(sender({ allowLoopback: false, allowlist: [] }, { 'hooks.example': ['10.0.0.7'] }), `http://hooks.example:${port}/`);
    expect(result).toEqual({ kind: 'refused', error: expect.stringContaining('hooks.example resolves to a private address (10.0.0.7)') });
  });

  it('refuses a name that answers with a public and a private address (rebinding)', async () => {
    const s = sender({ allowLoopback: false, allowlist: [] }, { 'rebind.example': ['93.184.216.34', '127.0.0.1'] });
    expect((await send(s, `http://rebind.example:${port}/`)).kind).toBe('refused');
    expect(receiver.requests).toHaveLength(0);
  });

  it('connects when the profile allows loopback, or when the operator allowlists the address or the name', async () => {
    expect((await send(sender({ allowLoopback: true, allowlist: [] }), `${receiver.url}/a`)).kind).toBe('response');
    expect((await send(sender({ allowLoopback: false, allowlist: ['127.0.0.0/8'] }), `${receiver.url}/b`)).kind).toBe('response');
    const named = sender({ allowLoopback: false, allowlist: ['hooks.internal'] }, { 'hooks.internal': ['127.0.0.1'] });
    expect((await send(named, `http://hooks.internal:${port}/c`)).kind).toBe('response');
    expect(receiver.requests.map((r) => r.path)).toEqual(['/a', '/b', '/c']);
  });
});
