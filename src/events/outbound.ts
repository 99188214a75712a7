/**
 * One outbound HTTP request per delivery, on node:http(s) with keep-alive agents. Deliveries are
 * the events feature's hot path (one request per event and target); fetch costs about three times
 * the CPU of http.request per small POST here, CPU the node's pushes and pulls share.
 * Redirects are not followed (EventBridge does not follow them either). The reach policy judges
 * the endpoint's host as written and, through the agents' lookup, every address it resolves to.
 */
import http from 'node:http';
import https from 'node:https';
import { ReachPolicy, type ReachSettings } from '../core/outbound-reach.js';

/** Sockets kept open per destination host; more deliveries wait for a free one. */
const MAX_SOCKETS = 32;

export interface Outbound {
  /** Sends the request and answers the response's status; the body is drained and discarded. */
  send(url: URL, method: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<number>;
  /** Aborts what is in flight and closes idle sockets. */
  close(): void;
}

export function outbound(reach?: ReachSettings): Outbound {
  const policy = new ReachPolicy(reach);
  const lookup = policy.lookup();
  const agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS, lookup }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS, lookup }),
  };
  const inFlight = new Set<http.ClientRequest>();
  return {
    send(url, method, headers, body, timeoutMs) {
      return new Promise((resolve, reject) => {
        const protocol = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
        if (!protocol) return reject(new Error(`unsupported protocol ${url.protocol}`));
        // An address literal is never looked up: judged here.
        const refused = policy.hostRefusal(url.hostname);
        if (refused) return reject(policy.refused(url.hostname, url.hostname, refused));
        const payload = body === undefined ? undefined : Buffer.from(body);
        const req = protocol.request(url, {
          method,
          agent: agents[url.protocol as 'http:' | 'https:'],
          headers: payload ? { ...headers, 'content-length': String(payload.length) } : headers,
          timeout: timeoutMs,
        });
        inFlight.add(req);
        // The socket timeout only covers idle gaps; a trickling endpoint is cut at the deadline too.
        const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        const done = () => {
          clearTimeout(deadline);
          inFlight.delete(req);
        };
        req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        req.on('error', (err) => {
          done();
          reject(err);
        });
        req.on('response', (res) => {
          res.on('error', () => undefined);
          res.on('end', done);
          res.on('close', done);
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.end(payload);
      });
    },
    close() {
      for (const req of inFlight) req.destroy(new Error('the deliverer stopped'));
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}
