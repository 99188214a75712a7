import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { systemClock } from '../core/clock.js';
import type { ApiDestinationDoc, ConnectionDoc, TargetDoc } from './documents.js';
import { DestinationSender } from './destination-sender.js';
import { outboundThread } from './outbound-client.js';

/** Counts node http ClientRequests ended on this (the event loop's) isolate while `run` runs. */
async function clientRequestsOnThisIsolate<T>(run: () => Promise<T>): Promise<{ result: T; count: number }> {
  const proto = http.ClientRequest.prototype;
  const end = proto.end;
  let count = 0;
  proto.end = function (this: http.ClientRequest, ...args: unknown[]) {
    count++;
    return (end as (...a: unknown[]) => http.ClientRequest).apply(this, args);
  } as typeof proto.end;
  try {
    return { result: await run(), count };
  } finally {
    proto.end = end;
  }
}

async function receiver(answer: (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void) {
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => answer(req, body, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook` };
}

/** The receivers listen on loopback, which Berth refuses to reach by default. */
const LOOPBACK = { outboundAllow: ['127.0.0.0/8', '::1'], outboundDeny: [] };
describe('deliveries sent from their own thread', () => {
  it('an API destination gets the event, its headers and credentials, and no ClientRequest runs on the event loop', async () => {
    const got: { method?: string; body?: string; key?: string; agent?: string; q?: string } = {};
    const { server, url } = await receiver((req, body, res) => {
      Object.assign(got, {
        method: req.method,
        body,
        key: req.headers['x-api-key'],
        agent: req.headers['user-agent'],
        q: new URL(req.url!, 'http://x').searchParams.get('a'),
      });
      res.writeHead(202).end();
    });
    const abort = new AbortController();
    const sender = new DestinationSender({
      meta: undefined as never,
      clock: systemClock,
      secrets: undefined as never,
      signal: abort.signal,
      reach: LOOPBACK,
      mayInvoke: async () => true,
    });
    try {
      const dest = {
        Arn: 'arn:aws:events:us-east-1:123456789012:api-destination/d/1',
        InvocationEndpoint: url,
        HttpMethod: 'POST',
        InvocationRateLimitPerSecond: 100,
      } as ApiDestinationDoc;
      const conn = {
        Arn: 'c',
        AuthorizationType: 'API_KEY',
        Public: { ApiKeyName: 'X-Api-Key', InvocationHttpParameters: { QueryStringParameters: [{ Key: 'a', Value: 'b' }] } },
      } as unknown as ConnectionDoc;
      const { result, count } = await clientRequestsOnThisIsolate(() =>
        sender.send({ target: { Arn: dest.Arn } as TargetDoc, dest, conn, secrets: { apiKeyValue: 'k-1' } }, '{"detail-type":"ECR Image Action"}'),
      );
      assert.deepEqual(result, { ok: true });
      assert.deepEqual(got, { method: 'POST', body: '{"detail-type":"ECR Image Action"}', key: 'k-1', agent: 'Amazon/EventBridge/ApiDestinations', q: 'b' });
      assert.equal(count, 0, 'a delivery ran node http on the event loop');
    } finally {
      sender.close();
      server.close();
    }
  });

  it("answers each delivery's own status when several are in flight, and a refused connection as a rejection", async () => {
    const { server, url } = await receiver((_req, body, res) => res.writeHead(Number(body)).end());
    const out = outboundThread(LOOPBACK);
    try {
      const statuses = await Promise.all([200, 404, 503, 204].map((s) => out.send(new URL(url), 'POST', {}, String(s), 5000)));
      assert.deepEqual(statuses, [200, 404, 503, 204]);
      const gone = await receiver(() => undefined);
      await new Promise((r) => gone.server.close(r));
      await assert.rejects(out.send(new URL(gone.url), 'POST', {}, '200', 5000), /ECONNREFUSED/);
    } finally {
      out.close();
      server.close();
    }
  });

  it('close() ends a delivery in flight, and later sends are refused', async () => {
    let arrived!: () => void;
    const arrival = new Promise<void>((r) => (arrived = r));
    const { server, url } = await receiver(() => arrived()); // never answers
    const out = outboundThread(LOOPBACK);
    try {
      const inFlight = out.send(new URL(url), 'POST', {}, 'x', 60_000);
      await arrival;
      out.close();
      await assert.rejects(inFlight, /the deliverer stopped/);
      await assert.rejects(out.send(new URL(url), 'POST', {}, 'x', 5000), /the deliverer stopped/);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
