/**
 * The request record's shared close time, over a real Node HTTP server and fetch: the observers
 * of one request (the trail and usage in the app) read the clock once between them and see the
 * same instant; the next request reads it afresh. Body bytes are counted both ways over HTTP/1.1
 * and h2 without giving a request or its response methods of their own.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import type { Clock } from '../core/clock.js';
import type { Principal } from '../auth/principal.js';
import { beginRequest, closeTime, noteDenied, noteError, noteOperation, notePrincipal, type RequestFacts, type RequestObserver } from './request-facts.js';

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

/** What a counting observer saw of one request, and whether the request or response had own stream methods. */
type Seen = { received: number; sent: number; own: string[] };

function countingObserver(seen: Seen[]): RequestObserver {
  return {
    requestClosed: (_req, _res, f: Readonly<RequestFacts>) => {
      seen[seen.length - 1]!.received = f.bytes.received;
      seen[seen.length - 1]!.sent = f.bytes.sent;
    },
  };
}

/** Reads the body, then answers with a write and an end (a string of two-byte characters, given its encoding, and a Buffer). */
function answer(req: IncomingMessage, res: ServerResponse, seen: Seen[]): void {
  seen.push({ received: -1, sent: -1, own: [] });
  beginRequest(req, res, [countingObserver(seen)]);
  const own = (o: object, names: string[]) => names.filter((n) => Object.hasOwn(o, n));
  seen[seen.length - 1]!.own = [...own(req, ['push']), ...own(res, ['write', 'end'])];
  req.resume();
  req.on('end', () => {
    res.write('héllo wörld', 'utf8');
    res.end(Buffer.alloc(1000, 1));
  });
}

const BODY = Buffer.alloc(70_000, 7);
// 'héllo wörld' is 13 bytes in UTF-8.
const SENT = 13 + 1000;

describe('body byte counts', () => {
  it('counts an HTTP/1.1 request body and response body, with no stream method of its own on either', async () => {
    const seen: Seen[] = [];
    const server = createServer((req, res) => answer(req, res, seen));
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      for (let i = 1; i <= 2; i++) {
        const r = await fetch(url, { method: 'PUT', body: BODY });
        assert.equal((await r.arrayBuffer()).byteLength, SENT);
        while (seen.length < i || seen[i - 1]!.sent < 0) await new Promise((res) => setImmediate(res));
      }
    } finally {
      server.closeAllConnections();
      await new Promise((res) => server.close(res));
    }
    assert.deepEqual(seen, [
      { received: BODY.length, sent: SENT, own: [] },
      { received: BODY.length, sent: SENT, own: [] },
    ]);
  });

  it('counts an h2 request body and response body once each (end writes its chunk through write), with no stream method of its own', async () => {
    const seen: Seen[] = [];
    const server = http2.createServer((req, res) => answer(req as unknown as IncomingMessage, res as unknown as ServerResponse, seen));
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const stream = client.request({ ':method': 'PUT', ':path': '/' });
      stream.end(BODY);
      let got = 0;
      stream.on('data', (d: Buffer) => (got += d.length));
      await new Promise((res) => stream.on('end', res));
      assert.equal(got, SENT);
      while (seen.length < 1 || seen[0]!.sent < 0) await new Promise((res) => setImmediate(res));
    } finally {
      client.close();
      await new Promise((res) => server.close(res));
    }
    assert.deepEqual(seen, [{ received: BODY.length, sent: SENT, own: [] }]);
  });
});

describe('a request record', () => {
  it('has the same fields in the same order whatever was noted and in which order (one shape for every request)', async () => {
    const keys: string[][] = [];
    const observer: RequestObserver = { countsBytes: false, requestClosed: (_req, _res, f) => void keys.push(Object.keys(f)) };
    const principal = { arn: 'arn:aws:iam::123456789012:user/a' } as unknown as Principal;
    // Three kinds of request, noted as their doors note them: a manifest GET, a refused call, a JSON call.
    const notes = [
      (req: IncomingMessage) => {
        noteOperation(req, 'oci', 'manifest-read', { resource: 'a/b' });
        notePrincipal(req, principal);
      },
      (req: IncomingMessage) => {
        notePrincipal(req, principal);
        noteDenied(req, 'ecr:PutImage', 'a/b');
        noteError(req, 'AccessDeniedException', 'no');
      },
      (req: IncomingMessage) => {
        noteError(req, 'InvalidParameterException', 'bad');
        noteOperation(req, 'ecr', 'DescribeImages', { params: { repositoryName: 'a/b' } });
      },
    ];
    let i = 0;
    const server = createServer((req, res) => {
      beginRequest(req, res, [observer]);
      notes[i++]!(req);
      res.end('ok');
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      for (let n = 1; n <= notes.length; n++) {
        assert.equal(await (await fetch(url)).text(), 'ok');
        while (keys.length < n) await new Promise((res) => setImmediate(res));
      }
    } finally {
      server.closeAllConnections();
      await new Promise((res) => server.close(res));
    }
    assert.equal(keys.length, 3);
    assert.deepEqual(keys[1], keys[0]);
    assert.deepEqual(keys[2], keys[0]);
  });
});

describe('observing a request', () => {
  it('allocates nothing per request for the close and the operation: one close listener for every response, one operation object per name', async () => {
    const ops: unknown[] = [];
    const listeners: unknown[][] = [];
    const observer: RequestObserver = { countsBytes: false, requestClosed: (_req, _res, f) => void ops.push(f.operation) };
    const server = createServer((req, res) => {
      beginRequest(req, res, [observer]);
      noteOperation(req, 'oci', 'manifest-read', { resource: 'a/b' });
      listeners.push(res.listeners('close'));
      res.end('ok');
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      for (let n = 1; n <= 2; n++) {
        assert.equal(await (await fetch(url)).text(), 'ok');
        while (ops.length < n) await new Promise((res) => setImmediate(res));
      }
    } finally {
      server.closeAllConnections();
      await new Promise((res) => server.close(res));
    }
    assert.deepEqual(ops[0], { api: 'oci', name: 'manifest-read' });
    assert.equal(ops[1], ops[0]);
    assert.equal(listeners.length, 2);
    const ours = listeners[0]!.filter((l) => listeners[1]!.includes(l));
    assert.equal(ours.length, 1, 'one close listener of the observers, the same function for both responses');
  });
});
