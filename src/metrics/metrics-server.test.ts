import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import type { Logger } from 'pino';
import { createMetricsServer } from './metrics-server.js';
import type { BerthMetrics } from './metrics.js';

const TEXT = 'text/plain; version=0.0.4; charset=utf-8';

describe('the metrics listener', () => {
  it('serves scrapes from its own thread: no request or response of it is made on the event loop', async () => {
    let fail = false;
    let scrapes = 0;
    const metrics = {
      scrape: async () => {
        scrapes++;
        if (fail) throw new Error('the database is gone');
        return { body: `berth_up ${scrapes}\n`, contentType: TEXT };
      },
    } as unknown as BerthMetrics;
    const errors: string[] = [];
    const log = { error: (_o: unknown, msg: string) => errors.push(msg) } as unknown as Logger;
    // Counted on this isolate only: fetch (undici) makes no node http objects.
    const proto = http.ServerResponse.prototype;
    const writeHead = proto.writeHead;
    let here = 0;
    proto.writeHead = function (this: http.ServerResponse, ...args: unknown[]) {
      here++;
      return (writeHead as (...a: unknown[]) => http.ServerResponse).apply(this, args);
    } as typeof proto.writeHead;
    const listener = createMetricsServer(metrics, log);
    try {
      const port = await listener.listen(0, '127.0.0.1');
      const base = `http://127.0.0.1:${port}`;
      const r1 = await fetch(`${base}/metrics`);
      assert.equal(r1.status, 200);
      assert.equal(r1.headers.get('content-type'), TEXT);
      assert.equal(r1.headers.get('cache-control'), 'no-store');
      assert.equal(await r1.text(), 'berth_up 1\n');
      const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), '');
      const other = await fetch(`${base}/v2/`);
      assert.equal(other.status, 404);
      assert.equal(await other.text(), 'not found: metrics are at GET /metrics\n');
      fail = true;
      const r500 = await fetch(`${base}/metrics`);
      assert.equal(r500.status, 500);
      assert.equal(await r500.text(), 'metrics unavailable\n');
      assert.deepEqual(errors, ['metrics scrape failed']);
      assert.equal(scrapes, 3);
      assert.equal(here, 0, 'the metrics listener answered on the event loop');
    } finally {
      proto.writeHead = writeHead;
      listener.close();
    }
  });

  it('rejects as listen fails (the port taken), with the error code', async () => {
    const taken = http.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    const listener = createMetricsServer({} as BerthMetrics, {} as Logger);
    try {
      await assert.rejects(listener.listen(port, '127.0.0.1'), { code: 'EADDRINUSE' });
    } finally {
      listener.close();
      taken.close();
    }
  });
});
