/**
 * Where a URL a user names (a pull-through upstream, an API destination, an OIDC issuer) may take
 * Berth's outbound requests. Without it, anyone allowed to create such a URL could make the
 * registry host call the cloud's instance metadata service (169.254.169.254, fd00:ec2::254) or
 * its own local admin ports, and read what they answer (SSRF).
 *
 * Refused by default: link-local (the metadata services), loopback (this host's own services),
 * the unspecified address, multicast and the reserved/broadcast block. Private ranges (10/8,
 * 172.16/12, 192.168/16, fc00::/7, 100.64/10) are reached: self-hosted registries do sit beside
 * internal upstreams and webhooks. The operator widens it with `outboundAllow` and narrows it
 * with `outboundDeny` (CIDR lists): deny wins over allow, allow over the defaults.
 *
 * Checked twice: on the URL's text when it is created (a literal address; the WHATWG URL parser
 * has already turned decimal, octal and hex IPv4 spellings into dotted quads), and on the
 * resolved address when a request connects (`guardedLookup`, the `lookup` of the agent or fetch
 * dispatcher), so that a name resolving to a refused address, a redirect to one, and DNS
 * rebinding are refused too. An IPv6 address embedding IPv4 (mapped ::ffff:a.b.c.d, compatible
 * ::a.b.c.d, NAT64 64:ff9b::/96 and 64:ff9b:1::/96, 6to4 2002::/16, Teredo 2001::/32) is judged
 * by the IPv4 address it carries (judgedAddresses).
 */
import dns from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { ipv6Groups } from './ipv6-groups.js';

export interface ReachSettings {
  /** CIDRs reached even when a default refuses them (e.g. 127.0.0.0/8 for a local upstream). */
  outboundAllow: readonly string[];
  /** CIDRs never reached (wins over outboundAllow). */
  outboundDeny: readonly string[];
}

/** The ranges refused unless outboundAllow names them, each with the reason a refusal gives. */
const DEFAULT_REFUSED: ReadonlyArray<[string, string]> = [
  ['169.254.0.0/16', 'link-local'],
  ['fe80::/10', 'link-local'],
  ['fd00:ec2::254/128', 'link-local'],
  ['127.0.0.0/8', 'loopback'],
  ['::1/128', 'loopback'],
  ['0.0.0.0/8', 'unspecified'],
  ['::/128', 'unspecified'],
  ['224.0.0.0/4', 'multicast'],
  ['ff00::/8', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
  // Beyond the /96 form judgedAddresses reads, where the IPv4 address sits is the operator's choice.
  ['64:ff9b:1::/48', 'local-use NAT64'],
];

/** `a.b.c.d/n` or `x::y/n` (a bare address is a /32 or /128); throws on anything else. */
export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const [address = '', bits, extra] = text.trim().split('/');
  const v = isIP(address);
  const max = v === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (v === 0 || extra !== undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > max || (bits !== undefined && !/^\d+$/.test(bits)))
    throw new Error(`${text.slice(0, 100)} is not an IP address or CIDR block`);
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

function blockList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const { address, prefix, family } = parseCidr(c);
    list.addSubnet(address, prefix, family);
  }
  return list;
}

/**
 * The addresses an address is judged by: the IPv4 addresses an IPv6 address carries, else the
 * address itself. Mapped (::ffff:0:0/96), translated (::ffff:0:0:0/96), compatible (::/96, but
 * :: and ::1), NAT64 (64:ff9b::/96), 6to4 (2002::/16, whose relay takes a packet on to the IPv4
 * address in bits 16-47) and Teredo (2001::/32: the server's address in bits 32-63 and the
 * client's, where a relay delivers, in the last 32 bits inverted; both are judged). Local-use
 * NAT64 (64:ff9b:1::/48, RFC 8215) puts the IPv4 address where the operator's prefix length
 * says (RFC 6052); only its /96 form with zero subnet bits (64:ff9b:1::a.b.c.d) is read, and
 * DEFAULT_REFUSED refuses the rest of the range.
 */
export function judgedAddresses(address: string): string[] {
  const a = ipv6Of(address);
  if (a === undefined) return [address.replace(/^\[|\]$/g, '').toLowerCase()];
  const g = ipv6Groups(a);
  const v4 = (hi: number, lo: number) => [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
  const zero = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zero(0, 5) && g[5] === 0xffff) return [v4(g[6]!, g[7]!)];
  if (zero(0, 4) && g[4] === 0xffff && g[5] === 0) return [v4(g[6]!, g[7]!)];
  if (zero(0, 6) && !(g[6] === 0 && g[7]! <= 1)) return [v4(g[6]!, g[7]!)];
  if (g[0] === 0x64 && g[1] === 0xff9b && zero(2, 6)) return [v4(g[6]!, g[7]!)];
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1 && zero(3, 6)) return [v4(g[6]!, g[7]!)];
  if (g[0] === 0x2002) return [v4(g[1]!, g[2]!)];
  if (g[0] === 0x2001 && g[1] === 0) return [v4(g[2]!, g[3]!), v4(g[6]! ^ 0xffff, g[7]! ^ 0xffff)];
  return [a];
}

/** The IPv6 address `address` is (brackets and zone taken off: fe80::1%eth0's zone names the interface, not another address), else undefined. */
function ipv6Of(address: string): string | undefined {
  const a = address
    .replace(/^\[|\]$/g, '')
    .replace(/%[^%]*$/, '')
    .toLowerCase();
  return isIP(a) === 6 ? a : undefined;
}

export class ReachPolicy {
  private readonly allow: BlockList;
  private readonly deny: BlockList;
  private readonly defaults: Array<[BlockList, string]>;

  constructor(
    readonly settings: ReachSettings = { outboundAllow: [], outboundDeny: [] },
    /** Told of each request refused when it is sent (not of URLs refused when created): the log line. */
    private readonly onRefused?: (refused: OutboundRefused) => void,
  ) {
    this.allow = blockList(settings.outboundAllow);
    this.deny = blockList(settings.outboundDeny);
    this.defaults = DEFAULT_REFUSED.map(([cidr, why]) => [blockList([cidr]), why]);
  }

  /** Why an IP address may not be reached (e.g. 'link-local'), or undefined when it may. */
  refusal(address: string): string | undefined {
    // The operator's deny holds for the IPv6 form too (`2002::/16`), not only for what it carries.
    const v6 = ipv6Of(address);
    if (v6 !== undefined && this.deny.check(v6, 'ipv6')) return 'denied by outboundDeny';
    for (const a of judgedAddresses(address)) {
      const why = this.judge(a);
      if (why !== undefined) return why;
    }
    return undefined;
  }

  private judge(a: string): string | undefined {
    const family = isIP(a) === 4 ? 'ipv4' : isIP(a) === 6 ? 'ipv6' : undefined;
    if (!family) return 'not an IP address';
    if (this.deny.check(a, family)) return 'denied by outboundDeny';
    if (this.allow.check(a, family)) return undefined;
    for (const [list, why] of this.defaults) if (list.check(a, family)) return why;
    return undefined;
  }

  /**
   * Why a URL's host may not be reached when it is a literal address (as `new URL` spells it:
   * `127.0.0.1`, `[::ffff:7f00:1]`); undefined for names, judged when they resolve.
   */
  hostRefusal(hostname: string): string | undefined {
    const h = hostname.replace(/^\[|\]$/g, '');
    return isIP(h) === 0 ? undefined : this.refusal(h);
  }

  /** A request refused as it is sent: reported, and the error to fail it with. */
  refused(host: string, address: string, reason: string): OutboundRefused {
    const e = new OutboundRefused(host, address, reason);
    this.onRefused?.(e);
    return e;
  }

  /** A `lookup` for net/tls/http agents and fetch dispatchers that fails on a refused address. */
  lookup(): LookupFunction {
    return ((hostname: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
      dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
        if (err) return callback(err);
        const refused = addresses.find((a) => this.refusal(a.address) !== undefined);
        if (refused) return callback(this.refused(hostname, refused.address, this.refusal(refused.address)!));
        if (options.all) return callback(null, addresses);
        const first = addresses[0]!;
        callback(null, first.address, first.family);
      });
    }) as LookupFunction;
  }
}

/** A connection refused by the policy: names the host, the address and why (never credentials). */
export class OutboundRefused extends Error {
  readonly code = 'EOUTBOUNDREFUSED';
  constructor(
    readonly host: string,
    readonly address: string,
    readonly reason: string,
  ) {
    super(`${host} resolves to ${address} (${reason}), which Berth does not reach (see outboundAllow)`);
    this.name = 'OutboundRefused';
  }
}
