/**
 * A paused body's socket against a real Node HTTP server and a real client over loopback: while
 * the body is paused, the bytes the client sent stay in the kernel (the socket's receive queue,
 * read from /proc/net/tcp), not in the request's buffer; resumed, every byte arrives in order.
 * Nothing is timed: the pause is watched over turns of the event loop once the kernel is known
 * to hold unread bytes.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { holdSocketWithBody } from './body-socket-hold.js';

const MiB = 1024 * 1024;
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Bytes waiting in the kernel for the server's end of the connection from `clientPort`. */
function receiveQueue(serverPort: number, clientPort: number): number | undefined {
  const hex = (p: number) => p.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 5) continue;
      if (f[1]!.endsWith(`:${hex(serverPort)}`) && f[2]!.endsWith(`:${hex(clientPort)}`)) return Number.parseInt(f[4]!.split(':')[1]!, 16);
    }
  }
  return undefined;
}

async function withServer(hold: boolean, fn: (server: Server, port: number, next: () => Promise<IncomingMessage>) => Promise<void>): Promise<void> {
  const waiting: Array<(req: IncomingMessage) => void> = [];
  const server = createServer((req, res) => {
    if (hold) holdSocketWithBody(req);
    req.on('error', () => undefined);
    (req as IncomingMessage & { res?: typeof res }).res = res;
    waiting.shift()?.(req);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    await fn(server, port, () => new Promise((r) => waiting.push(r)));
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

function send(port: number, body: Buffer): { clientPort: Promise<number>; answered: Promise<number> } {
  const req = request({ port, host: '127.0.0.1', method: 'PUT', path: '/', headers: { 'content-length': String(body.length) } });
  const clientPort = new Promise<number>((r) => req.once('socket', (s) => s.once('connect', () => r(s.localPort!))));
  const answered = new Promise<number>((resolve, reject) => {
    req.once('response', (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.once('error', reject);
  });
  req.end(body);
  return { clientPort, answered };
}

/** Pauses the body at its first piece; returns what it had delivered and a resume that reads the rest. */
async function pauseAtFirstPiece(req: IncomingMessage): Promise<{ got: Buffer[]; rest: () => Promise<void> }> {
  const got: Buffer[] = [];
  await new Promise<void>((r) =>
    req.once('data', (piece: Buffer) => {
      got.push(piece);
      req.pause();
      r();
    }),
  );
  return {
    got,
    rest: () =>
      new Promise((resolve, reject) => {
        req.on('data', (piece: Buffer) => got.push(piece));
        req.once('end', resolve);
        req.once('error', reject);
        req.resume();
      }),
  };
}

async function pausedBodyBuffer(hold: boolean): Promise<{ buffered: number; queued: number; intact: boolean }> {
  const body = Buffer.alloc(4 * MiB, 7);
  body.writeUInt32BE(0xdeadbeef, body.length - 4);
  let out = { buffered: -1, queued: -1, intact: false };
  await withServer(hold, async (_server, port, next) => {
    const incoming = next();
    const { clientPort, answered } = send(port, body);
    const req = await incoming;
    const paused = await pauseAtFirstPiece(req);
    const cport = await clientPort;
    // Wait until the kernel holds bytes for this socket that the process has not read…
    let queued = 0;
    while (!((queued = receiveQueue(port, cport) ?? 0) > 0)) await turn();
    // …and give the loop turns enough to read them, as it would for any readable socket.
    for (let i = 0; i < 50; i++) await turn();
    const buffered = req.readableLength;
    await paused.rest();
    (req as IncomingMessage & { res: { end(): void } }).res.end();
    assert.equal(await answered, 200);
    const got = Buffer.concat(paused.got);
    out = {
      buffered,
      queued,
      intact: got.length === body.length && createHash('sha256').update(got).digest('hex') === createHash('sha256').update(body).digest('hex'),
    };
  });
  return out;
}

describe('a paused body holds its socket', { skip: process.platform !== 'linux' && 'reads the receive queue from /proc/net/tcp' }, () => {
  it('leaves the unread bytes in the kernel, then delivers every byte once resumed', async () => {
    const held = await pausedBodyBuffer(true);
    assert.ok(held.queued > 0);
    assert.equal(held.buffered, 0, 'a paused body read more of its socket');
    assert.ok(held.intact, 'the body arrived whole and in order');
  });

  it("without it, Node reads a piece more into the paused body's buffer (what the hold saves)", async () => {
    const plain = await pausedBodyBuffer(false);
    assert.ok(plain.buffered > 0, `nothing buffered: ${plain.buffered}`);
    assert.ok(plain.intact);
  });

  it('survives pauses and resumes in the same tick: every byte arrives, the buffer stays bounded', async () => {
    await withServer(true, async (_server, port, next) => {
      const body = Buffer.alloc(16 * MiB);
      for (let i = 0; i < body.length; i += 4) body.writeUInt32LE(i, i);
      const incoming = next();
      const { answered } = send(port, body);
      const req = await incoming;
      const hash = createHash('sha256');
      let n = 0;
      let most = 0;
      let pieces = 0;
      await new Promise<void>((resolve, reject) => {
        req.on('data', (piece: Buffer) => {
          hash.update(piece);
          n += piece.length;
          most = Math.max(most, req.readableLength);
          pieces++;
          // A pacer's hold and a consumer's wait, interleaved: resumed and paused again in one
          // tick (a late 'resume' event follows), then resumed on a later turn.
          req.pause();
          if (pieces % 2 === 0) {
            req.resume();
            req.pause();
          }
          setImmediate(() => req.resume());
        });
        req.once('end', resolve);
        req.once('error', reject);
      });
      (req as IncomingMessage & { res: { end(): void } }).res.end();
      assert.equal(await answered, 200);
      assert.equal(n, body.length);
      assert.equal(hash.digest('hex'), createHash('sha256').update(body).digest('hex'));
      assert.ok(most <= req.readableHighWaterMark + 64 * 1024, `the paused body buffered ${most} bytes`);
    });
  });
});

/** What a body buffered before its handler's first read, once the kernel holds bytes Node could have read. */
async function bufferedBeforeFirstRead(hold: boolean): Promise<{ buffered: number; highWater: number; intact: boolean }> {
  const body = Buffer.alloc(4 * MiB);
  for (let i = 0; i < body.length; i += 4) body.writeUInt32LE(i, i);
  let out = { buffered: -1, highWater: 0, intact: false };
  await withServer(hold, async (_server, port, next) => {
    const incoming = next();
    const { clientPort, answered } = send(port, body);
    const req = await incoming;
    const cport = await clientPort;
    // The handler has not read yet (still authenticating, say): the kernel holds bytes for it…
    while (!((receiveQueue(port, cport) ?? 0) > 0)) await turn();
    // …and the loop gets turns enough to read them, as it would for any readable socket.
    for (let i = 0; i < 50; i++) await turn();
    const buffered = req.readableLength;
    const hash = createHash('sha256');
    let n = 0;
    for await (const piece of req as AsyncIterable<Buffer>) {
      hash.update(piece);
      n += piece.length;
    }
    (req as IncomingMessage & { res: { end(): void } }).res.end();
    assert.equal(await answered, 200);
    out = {
      buffered,
      highWater: req.readableHighWaterMark,
      intact: n === body.length && hash.digest('hex') === createHash('sha256').update(body).digest('hex'),
    };
  });
  return out;
}

describe('a body not read yet holds its socket', { skip: process.platform !== 'linux' && 'reads the receive queue from /proc/net/tcp' }, () => {
  it('reads no more than the piece that came with the headers until the handler reads, then delivers every byte', async () => {
    const held = await bufferedBeforeFirstRead(true);
    assert.ok(held.buffered < held.highWater, `the unread body buffered ${held.buffered} bytes (high-water mark ${held.highWater})`);
    assert.ok(held.intact, 'the body arrived whole and in order');
  });

  it('without it, Node fills the unread body past its high-water mark (what the hold saves)', async () => {
    const plain = await bufferedBeforeFirstRead(false);
    assert.ok(plain.buffered >= plain.highWater, `buffered ${plain.buffered}`);
    assert.ok(plain.intact);
  });
});

describe('a held body read on in paused mode', () => {
  it('an async iterator after a pause gets every byte (read() ends the hold)', async () => {
    await withServer(true, async (_server, port, next) => {
      const body = Buffer.alloc(2 * MiB, 3);
      const incoming = next();
      const { answered } = send(port, body);
      const req = await incoming;
      const paused = await pauseAtFirstPiece(req);
      let n = paused.got[0]!.length;
      for await (const piece of req as AsyncIterable<Buffer>) n += piece.length;
      (req as IncomingMessage & { res: { end(): void } }).res.end();
      assert.equal(await answered, 200);
      assert.equal(n, body.length);
    });
  });
});

/** One keep-alive connection written raw: each request in one write, so its bytes arrive together. */
async function rawConnection(port: number): Promise<{ socket: Socket; clientPort: number; put(body: Buffer): void; answers(): number }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  return {
    socket,
    clientPort: socket.localPort!,
    put: (body) => socket.write(Buffer.concat([Buffer.from(`PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`), body])),
    answers: () => text.split('HTTP/1.1 200 OK').length - 1,
  };
}

/**
 * Whether `arrived()` holds once the kernel has had bytes for the server's end of the connection
 * and the loop 50 more turns to read them, as it would for any readable socket (nothing timed).
 */
async function readByServer(serverPort: number, clientPort: number, arrived: () => boolean): Promise<boolean> {
  while (!arrived() && !((receiveQueue(serverPort, clientPort) ?? 0) > 0)) await turn();
  for (let i = 0; i < 50 && !arrived(); i++) await turn();
  return arrived();
}

/**
 * A first request answered by `answer`, then a second on the same connection: whether the server
 * read the second (a hold left on the socket after the first body leaves it in the kernel).
 */
async function nextRequestRead(first: Buffer, answer: (req: IncomingMessage) => Promise<void>): Promise<boolean> {
  let read = false;
  await withServer(true, async (_server, port, next) => {
    const incoming = next();
    const c = await rawConnection(port);
    c.put(first);
    const req = await incoming;
    await answer(req);
    (req as IncomingMessage & { res: { end(s: string): void } }).res.end('ok');
    while (c.answers() < 1) await once(c.socket, 'data');
    let second: IncomingMessage | undefined;
    void next().then((r) => (second = r));
    c.put(Buffer.from('second'));
    read = await readByServer(port, c.clientPort, () => second !== undefined);
    if (second) {
      second.resume();
      (second as IncomingMessage & { res: { end(s: string): void } }).res.end('ok');
      while (c.answers() < 2) await once(c.socket, 'data');
    }
    c.socket.destroy();
  });
  return read;
}

describe('the connection outlives the body', { skip: process.platform !== 'linux' && 'reads the receive queue from /proc/net/tcp' }, () => {
  it("a body piped into a meter read by an async iterator (the S3 store's append): the connection's next request is read", async () => {
    // The pipe pauses its source when the finished meter unpipes, after the body's end.
    const read = await nextRequestRead(Buffer.alloc(2 * MiB, 5), async (req) => {
      const meter = new Transform({ transform: (chunk: Buffer, _enc, cb) => cb(null, chunk) });
      req.pipe(meter);
      let n = 0;
      await pipeline(meter, async (pieces: AsyncIterable<Buffer>) => {
        for await (const piece of pieces) n += piece.length;
      });
      assert.equal(n, 2 * MiB);
      assert.ok(req.readableEnded);
    });
    assert.ok(read, 'the second request stayed in the kernel');
  });

  it('a body paused at its piece and answered unread once complete: the next request is read', async () => {
    // Its last byte came in the socket read whose piece paused it.
    const read = await nextRequestRead(Buffer.alloc(1000, 6), async (req) => {
      await new Promise<void>((r) => req.once('data', () => r(void req.pause())));
      while (!req.complete) await turn();
    });
    assert.ok(read, 'the second request stayed in the kernel');
  });
});

describe('a held body read with a readable listener', { skip: process.platform !== 'linux' && 'reads the receive queue from /proc/net/tcp' }, () => {
  it("a 'readable' listener added after a pause gets its event and every byte", async () => {
    await withServer(true, async (_server, port, next) => {
      const body = Buffer.alloc(4 * MiB, 9);
      const incoming = next();
      const { clientPort, answered } = send(port, body);
      const req = await incoming;
      const paused = await pauseAtFirstPiece(req);
      const cport = await clientPort;
      let n = paused.got[0]!.length;
      let readable = 0;
      const ended = once(req, 'end');
      req.on('readable', () => {
        readable++;
        for (let piece: Buffer | null; (piece = req.read() as Buffer | null) !== null; ) n += piece.length;
      });
      assert.ok(await readByServer(port, cport, () => readable > 0), "no 'readable' for a held body");
      await ended;
      (req as IncomingMessage & { res: { end(): void } }).res.end();
      assert.equal(await answered, 200);
      assert.equal(n, body.length);
    });
  });
});
