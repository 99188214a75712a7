/**
 * The request record's shared close time, over a real Node HTTP server and fetch: the observers
 * of one request (the trail and usage in the app) read the clock once between them and see the
 * same instant; the next request reads it afresh.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import type { Clock } from '../core/clock.js';
import { beginRequest, closeTime, type RequestObserver } from './request-facts.js';

describe('closeTime', () => {
  it('reads the clock once per request, whichever observers ask, and each request anew', async () => {
    let reads = 0;
    const clock: Clock = { now: () => new Date(Date.UTC(2026, 11, 5, 10, 0, ++reads)) };
    const seen: Array<{ observer: string; at: Date; elapsedMs: number }> = [];
    let closed = 0;
    const observer = (name: string): RequestObserver => ({
      countsBytes: false,
      requestClosed: (_req, _res, f) => {
        seen.push({ observer: name, at: closeTime(f, clock), elapsedMs: performance.now() - f.startedMs });
        closed++;
      },
    });
    const observers = [observer('usage'), observer('trail')];
    const server = createServer((req, res) => {
      beginRequest(req, res, observers);
      res.end('ok');
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      for (let i = 1; i <= 2; i++) {
        assert.equal(await (await fetch(url)).text(), 'ok');
        // 'close' follows the last byte: wait for both observers of this request.
        while (closed < 2 * i) await new Promise((res) => setImmediate(res));
      }
    } finally {
      server.closeAllConnections();
      await new Promise((res) => server.close(res));
    }
    assert.equal(reads, 2);
    assert.deepEqual(
      seen.map((s) => [s.observer, s.at.toISOString()]),
      [
        ['usage', '2026-12-05T10:00:01.000Z'],
        ['trail', '2026-12-05T10:00:01.000Z'],
        ['usage', '2026-12-05T10:00:02.000Z'],
        ['trail', '2026-12-05T10:00:02.000Z'],
      ],
    );
    assert.equal(seen[0]!.at, seen[1]!.at);
    for (const s of seen) assert.ok(s.elapsedMs >= 0 && Number.isFinite(s.elapsedMs), `elapsed ${s.elapsedMs}`);
  });
});
