/**
 * A bound on the connections one client address keeps open at once (`maxConnectionsPerSource`):
 * beyond it a new connection from that address is closed as it arrives, before a byte of it is
 * read, as Node's `server.maxConnections` closes connections beyond the server's bound. Counted
 * on the TCP connection (TLS and h2 alike: a TLS server hears of it before the handshake).
 *
 * The address is the peer's as the socket sees it, an IPv6 one by its /64 (core/source-address.ts).
 * Behind a load balancer or a proxy every connection has the balancer's address, so there the
 * bound must stay off (the default); Berth trusts no forwarded-for header for it.
 */
import type { Server } from 'node:net';
import type { Socket } from 'node:net';
import { sourceOf } from '../core/source-address.js';

export interface SourceLimit {
  /** Connections closed at accept for their address's bound so far (for tests, diagnostics, metrics). */
  readonly refused: number;
  /** Open connections counted for `address`'s source (its /64, for IPv6). */
  open(address: string): number;
}

export function limitConnectionsPerSource(server: Server, max: number): SourceLimit {
  const open = new Map<string, number>();
  let refused = 0;
  server.on('connection', (socket: Socket) => {
    // Already gone (its address is no longer known): nothing to count.
    if (socket.remoteAddress === undefined) return;
    const address = sourceOf(socket.remoteAddress);
    const n = open.get(address) ?? 0;
    if (n >= max) {
      refused++;
      socket.destroy();
      return;
    }
    open.set(address, n + 1);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
  return {
    get refused() {
      return refused;
    },
    open: (address) => open.get(sourceOf(address)) ?? 0,
  };
}
