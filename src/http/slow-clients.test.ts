/**
 * The body watchdog against a real Node HTTP server and a raw socket: a body that stops is cut,
 * but time in which the server itself is not reading (backpressure) is not held against the client.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect as h2connect, createServer as createH2Server } from 'node:http2';
import { connect, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { holdSocketWithBody } from './body-socket-hold.js';
import { ResponseWatch, serverOptions, watchRequest, type SlowClientLimits } from './slow-clients.js';

const limits: SlowClientLimits = {
  headersTimeoutMs: 5000,
  idleTimeoutMs: 5000,
  bodyTimeoutMs: 300,
  bodyMinBytesPerSecond: 1000,
  responseTimeoutMs: 5000,
  responseMinBytesPerSecond: 1000,
};

async function readAll(req: IncomingMessage): Promise<number> {
  let n = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) n += chunk.length;
  return n;
}

/** Sends `head` then `body`, and resolves with what came back when the server closed or answered. */
function exchange(port: number, head: string, body?: Buffer, trickleEveryMs?: number): Promise<{ answer: string; closedEarly: boolean }> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let answer = '';
    let timer: NodeJS.Timeout | undefined;
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => {
      answer += d.toString('latin1');
      if (/\r\n\r\n\d+$/.test(answer)) s.end();
    });
    s.on('close', () => {
      clearInterval(timer);
      resolve({ answer, closedEarly: answer === '' });
    });
    s.write(head);
    if (body) s.write(body);
    if (trickleEveryMs) timer = setInterval(() => s.writable && s.write('x'), trickleEveryMs);
  });
}

describe('watchRequest', () => {
  let server: Server;
  let port: number;
  /** How long the handler waits, with the body buffer full, before it reads. */
  let holdMs = 0;
  /** How long the handler keeps the body paused after its first piece, its socket held (body-socket-hold.ts). */
  let pauseMs = 0;
  /** How long the handler waits before its first read, its socket held since the request's start (body-socket-hold.ts). */
  let unreadMs = 0;

  before(async () => {
    server = createServer(serverOptions(limits), (req, res) => {
      watchRequest(req, limits);
      if (pauseMs > 0 || unreadMs > 0) holdSocketWithBody(req);
      void (async () => {
        if (unreadMs > 0) await sleep(unreadMs);
        if (pauseMs > 0) {
          const first = await new Promise<number>((r) =>
            req.once('data', (piece: Buffer) => {
              req.pause();
              r(piece.length);
            }),
          );
          await sleep(pauseMs);
          const n = first + (await readAll(req));
          res.writeHead(200, { 'Content-Length': String(n).length, Connection: 'close' }).end(String(n));
          return;
        }
        if (holdMs > 0) {
          // Wait until Node has stopped reading the socket for us (our buffer is full), then stall.
          while (req.readableLength < req.readableHighWaterMark) await sleep(10);
          await sleep(holdMs);
        }
        const n = await readAll(req);
        res.writeHead(200, { 'Content-Length': String(n).length, Connection: 'close' }).end(String(n));
      })().catch(() => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  /** Posts a 4 MiB body at once; asserts it was answered 200 with its full length (not cut as slow). */
  async function answeredWhole(): Promise<void> {
    const body = Buffer.alloc(4 * 1024 * 1024, 1);
    const { answer } = await exchange(port, `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`, body);
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.match(answer, new RegExp(`\r\n\r\n${body.length}$`));
  }

  it('cuts a body that trickles below the minimum rate', async () => {
    holdMs = 0;
    const { closedEarly } = await exchange(port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n', undefined, 50);
    assert.ok(closedEarly, 'the connection was closed without an answer');
  });

  it('does not count time in which the server is not reading', async () => {
    // Four windows of the server's own stall with not a byte read from the socket.
    holdMs = 4 * limits.bodyTimeoutMs;
    await answeredWhole();
  });

  it('does not count time in which the body is paused and its socket held', async () => {
    // Four windows with the body paused: the kernel holds the bytes, the socket's stream is told nothing.
    holdMs = 0;
    pauseMs = 4 * limits.bodyTimeoutMs;
    try {
      await answeredWhole();
    } finally {
      pauseMs = 0;
    }
  });

  it('does not count time in which the handler has not read yet, its socket held since the start', async () => {
    // Four windows before the first read: the kernel holds the bytes and the request's buffer is not full.
    unreadMs = 4 * limits.bodyTimeoutMs;
    try {
      await answeredWhole();
    } finally {
      unreadMs = 0;
    }
  });
});

describe('ResponseWatch', () => {
  const window: Pick<SlowClientLimits, 'responseTimeoutMs' | 'responseMinBytesPerSecond'> = { responseTimeoutMs: 400, responseMinBytesPerSecond: 1000 };
  let server: Server;
  let port: number;
  let watch: ResponseWatch;
  /** How the handler writes its 32 MiB: all at once as the socket takes it, or with pauses of its own. */
  let ownPausesMs = 0;
  /** Settles when the server's latest response closed. */
  let responseClosed: Promise<void> = Promise.resolve();
  /** Responses the handler has begun: a client waits for its own before it waits for its close. */
  let begun = 0;
  /**
   * More than the kernel can hold for a client that reads nothing (its receive buffer's ceiling
   * plus the sender's), so the server's writes must stop: this kernel's tcp_rmem ceiling alone is
   * 32 MiB, which a fixed 32 MiB response could fill without ever stalling.
   */
  const ceiling = (file: string): number => Number(readFileSync(`/proc/sys/net/ipv4/${file}`, 'utf8').trim().split(/\s+/)[2] ?? 0);
  const total = Math.max(32, Math.ceil((ceiling('tcp_rmem') + ceiling('tcp_wmem')) / (1024 * 1024)) + 16) * 1024 * 1024;
  const piece = Buffer.alloc(1024 * 1024, 7);

  before(async () => {
    watch = new ResponseWatch(window);
    server = createServer((_req, res) => {
      responseClosed = new Promise((r) => res.once('close', () => r()));
      begun++;
      res.writeHead(200, { 'Content-Length': String(ownPausesMs > 0 ? 4 * piece.length : total) });
      void (async () => {
        if (ownPausesMs > 0) {
          // Berth waiting on its store: nothing waits for the client, whose socket is empty.
          for (let i = 0; i < 4; i++) {
            await new Promise<void>((r) => res.write(piece, () => r()));
            await sleep(ownPausesMs);
          }
          res.end();
          return;
        }
        for (let sent = 0; sent < total; sent += piece.length) {
          if (!res.write(piece)) await new Promise((r) => res.once('drain', r));
          if (res.destroyed) return;
        }
        res.end();
      })().catch(() => undefined);
    });
    server.on('connection', (socket) => watch.connection(socket));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    watch.close();
    return new Promise<void>((r) => server.close(() => r()));
  });

  /** GETs, reading nothing until the server's response has closed; then reads what is left. */
  function stalledGet(): Promise<number> {
    return new Promise((resolve) => {
      const s = connect(port, '127.0.0.1');
      let got = 0;
      s.pause();
      s.on('error', () => undefined);
      s.on('data', (d: Buffer) => (got += d.length));
      s.on('close', () => resolve(got));
      const before = begun;
      s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      void (async () => {
        // Its own response, not the previous one's (already closed): under load the handler may
        // run well after the connection is watched, and the client then read everything at once.
        while (begun === before) await sleep(10);
        await responseClosed;
        s.resume();
      })();
    });
  }

  // Bounded: without the rule the response never closes.
  it('cuts a connection whose client takes nothing', { timeout: 60_000 }, async () => {
    ownPausesMs = 0;
    const got = await stalledGet();
    assert.ok(got < total, `the body was cut short (${got} of ${total} bytes)`);
  });

  it('does not count time in which the response waits on the server', async () => {
    // Four pauses of the handler's own, each longer than a window, with the client reading at once.
    ownPausesMs = 2 * window.responseTimeoutMs;
    const { answer } = await exchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const body = answer.slice(answer.indexOf('\r\n\r\n') + 4);
    assert.equal(body.length, 4 * piece.length);
  });
});

describe('ResponseWatch on h2', () => {
  // Bounded: without the rule's destroy the response never closes.
  it('ends a stream the client reset with NO_ERROR after the response had ended', { timeout: 20_000 }, async () => {
    const watch = new ResponseWatch({ responseTimeoutMs: 400, responseMinBytesPerSecond: 1000 });
    let responseClosed: Promise<boolean> | undefined;
    const ended = new Promise<void>((resolve) => {
      const server = createH2Server((req, res) => {
        watch.watch(req as unknown as IncomingMessage, res as unknown as ServerResponse);
        responseClosed = new Promise((r) => res.once('close', () => r(res.stream.destroyed)));
        // All of it queued and the response ended: a reset now emits nothing Node acts on.
        res.writeHead(200);
        for (let i = 0; i < 8; i++) res.write(Buffer.alloc(1024 * 1024, 7));
        res.end();
        resolve();
      });
      after(() => {
        watch.close();
        server.close();
      });
      server.listen(0, '127.0.0.1', () => {
        const session = h2connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
        after(() => session.destroy());
        const r = session.request({ ':path': '/' });
        r.once('data', () => r.close());
      });
    });
    await ended;
    assert.equal(await responseClosed, true, 'the response closed, its stream destroyed');
  });
});
