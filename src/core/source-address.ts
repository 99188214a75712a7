/**
 * The client a source address stands for, in bounds kept per client (the console's sign-in
 * throttle, maxConnectionsPerSource): an IPv4 address by itself (also as a dual-stack socket
 * spells it, ::ffff:a.b.c.d), an IPv6 address by its /64. A host is usually given a whole /64
 * and may send from any address in it, so a bound per IPv6 address would bound nothing.
 */
import { isIP } from 'node:net';
import { ipv6Groups } from './ipv6-groups.js';

export function sourceOf(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  const bare = address.replace(/%[^%]*$/, '').toLowerCase();
  if (isIP(bare) !== 6) return address;
  const prefix = ipv6Groups(bare)
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':');
  return `${prefix}::/64`;
}
