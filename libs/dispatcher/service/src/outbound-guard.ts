import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { isIP } from 'node:net';
import { ConfigError } from '@schedstack/contracts';
import * as ipaddr from 'ipaddr.js';
import { buildConnector } from 'undici';

/**
 * SPEC §4 outbound safety, in one module. Outgoing requests are refused when the address they
 * would connect to is not public unicast: loopback, private (10/8, 172.16/12, 192.168/16),
 * link-local (169.254/16, with the cloud metadata address), CGNAT (100.64/10), multicast,
 * 0.0.0.0/8, broadcast, reserved, IPv6 loopback, unique-local (fc00::/7), link-local (fe80::/10),
 * multicast and transition forms (6to4, Teredo, NAT64) — and IPv4-mapped IPv6 is judged by the
 * IPv4 address inside it. The check runs on the addresses DNS returns at connect time (so a name
 * that changes its answer after the schedule was created — DNS rebinding — is still caught) and on
 * IP literals, which Node connects to without a lookup. Decimal and hex spellings of IPv4
 * (`2130706433`, `0x7f.1`) are normalised by the WHATWG URL parser before they get here.
 */

/** A refused endpoint; the attempt is recorded as a permanent failure with this message. */
export class EndpointBlockedError extends Error {
  readonly code = 'ENDPOINT_BLOCKED';

  constructor(message: string) {
    super(message);
    this.name = 'EndpointBlockedError';
  }
}

export interface OutboundGuardOptions {
  /** The local profile allows loopback so the demo works (SCHEDSTACK_ALLOW_LOOPBACK). */
  readonly allowLoopback: boolean;
  /** Operator allowlist: CIDRs, addresses, host names, `*.example.com` (SCHEDSTACK_OUTBOUND_ALLOWLIST). */
  readonly allowlist: readonly string[];
}

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

const METADATA_ADDRESSES = new Set(['169.254.169.254', 'fd00:ec2::254', '100.100.100.200']);

const RANGE_NAMES: Record<string, string> = {
  loopback: 'a loopback',
  private: 'a private',
  linkLocal: 'a link-local',
  carrierGradeNat: 'a carrier-grade NAT',
  multicast: 'a multicast',
  unspecified: 'an unspecified',
  broadcast: 'a broadcast',
  uniqueLocal: 'a unique-local',
};

/** `::a.b.c.d` (RFC 4291 §2.5.5.1, deprecated) — any address in ::/96 but `::` and `::1`, which keep their IPv6 meaning. */
function isIPv4Compatible(address: ipaddr.IPv6): boolean {
  return address.toByteArray().slice(0, 12).every((b) => b === 0) && !['::', '::1'].includes(address.toString());
}

export type LookupFunction = (
  hostname: string,
  options: LookupAllOptions,
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

export class OutboundGuard {
  private readonly cidrs: Cidr[] = [];
  private readonly hosts = new Set<string>();
  private readonly suffixes: string[] = [];

  constructor(private readonly options: OutboundGuardOptions) {
    for (const entry of options.allowlist) {
      const value = entry.trim().toLowerCase();
      if (ipaddr.isValid(value)) {
        const address = ipaddr.parse(value);
        this.cidrs.push([address, address.kind() === 'ipv4' ? 32 : 128]);
      } else if (value.includes('/')) {
        try {
          this.cidrs.push(ipaddr.parseCIDR(value));
        } catch {
          throw new ConfigError(`SCHEDSTACK_OUTBOUND_ALLOWLIST: '${entry}' is not a valid CIDR`);
        }
      } else if (/^\*\.[a-z0-9.-]+$/.test(value)) {
        this.suffixes.push(value.slice(1));
      } else if (/^[a-z0-9.-]+$/.test(value) && !/^[0-9.]+$/.test(value)) {
        this.hosts.add(value);
      } else {
        throw new ConfigError(`SCHEDSTACK_OUTBOUND_ALLOWLIST: '${entry}' is not a CIDR, an address or a host name`);
      }
    }
  }

  /** Why connecting to `address` for `host` is refused, or null when it is allowed. */
  refusal(host: string, address: string): string | null {
    const name = host.toLowerCase().replace(/^\[|\]$/g, '');
    if (this.hosts.has(name) || this.suffixes.some((s) => name.endsWith(s))) return null;
    let parsed: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      parsed = ipaddr.parse(address);
    } catch {
      return `endpoint_blocked: ${name} resolved to '${address}', which is not an IP address`;
    }
    // ::ffff:a.b.c.d reaches a.b.c.d, so it is judged as that IPv4 address; so is the deprecated
    // IPv4-compatible ::a.b.c.d (::/96), which hosts with automatic tunnelling route to a.b.c.d.
    if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
    else if (parsed.kind() === 'ipv6' && isIPv4Compatible(parsed as ipaddr.IPv6)) parsed = ipaddr.fromByteArray((parsed as ipaddr.IPv6).toByteArray().slice(12));
    if (this.cidrs.some(([range, bits]) => range.kind() === parsed.kind() && parsed.match(range, bits))) return null;
    const range = parsed.range();
    if (range === 'unicast') return null;
    if (range === 'loopback' && this.options.allowLoopback) return null;
    const normal = parsed.toString();
    const what = METADATA_ADDRESSES.has(normal) ? 'a cloud metadata' : RANGE_NAMES[range] ?? `a non-public (${range})`;
    const finding = isIP(name) ? `${name} is ${what} address` : `${name} resolves to ${what} address (${normal})`;
    return `endpoint_blocked: ${finding}; an operator can allow it with SCHEDSTACK_OUTBOUND_ALLOWLIST`;
  }

  /**
   * A `lookup` for `net.connect`: resolves every address, refuses them all when any one is blocked
   * (a name mixing public and private answers is not trusted), and hands back only checked addresses.
   */
  guardedLookup(resolve: LookupFunction = dnsLookup as unknown as LookupFunction) {
    return (
      hostname: string,
      options: { all?: boolean; family?: number },
      callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
    ): void => {
      resolve(hostname, { ...options, all: true } as LookupAllOptions, (error, addresses) => {
        if (error) return callback(error, options.all ? [] : '');
        for (const { address } of addresses) {
          const refusal = this.refusal(hostname, address);
          if (refusal) return callback(new EndpointBlockedError(refusal) as NodeJS.ErrnoException, options.all ? [] : '');
        }
        if (options.all) return callback(null, addresses);
        callback(null, addresses[0].address, addresses[0].family);
      });
    };
  }

  /**
   * An undici connector that enforces the guard before any socket is opened: IP literals are
   * checked here, host names through the guarded lookup. Redirects are never followed (the
   * dispatcher sends exactly one request per attempt), so there is no later hop to check.
   */
  connector(resolve?: LookupFunction, connectTimeoutMs?: number): buildConnector.connector {
    const connect = buildConnector({ lookup: this.guardedLookup(resolve), timeout: connectTimeoutMs } as buildConnector.BuildOptions);
    return (options, callback) => {
      const host = options.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host)) {
        const refusal = this.refusal(host, host);
        if (refusal) {
          callback(new EndpointBlockedError(refusal), null);
          return;
        }
      }
      return connect(options, callback);
    };
  }
}
