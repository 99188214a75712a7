/**
 * Downloads written to their sockets by the byte thread that opens them (open-send.ts), over real
 * HTTP/1.1: a Node http server in this process answers GETs the way the blob handler does (the
 * response's headers, then the download's writeTo with the socket's fd), and curl, Node's client
 * and raw sockets fetch. Exact bytes for sizes, chunk sizes and ranges; keep-alive and pipelined
 * requests after a sent download; a client that hangs up, one that stops reading, many at once on
 * few threads, and a chunk that fails its tag. Every fd the sends dup is closed again.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readlink, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, createServer, get, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { isDirectBody } from '../../core/direct-body.js';
import { digestHex, type Digest } from '../../core/digest.js';
import type { BlobStore } from '../blob-store.js';
import { createFsBlobStore } from '../fs/fs-blob-store.js';
import { bytes, openFilesUnder, putBlob } from '../testing.js';
import { ByteThreads } from '../workers/threads.js';
import { HEADER_SIZE, TAG_SIZE } from './chunk-format.js';
import { createEncryptedBlobStore } from './encrypted-blob-store.js';
import { OpenPool } from './open-pool.js';
import { sockSend, sockSendUnavailable } from './sock-send.js';
import { threadPolicies } from './thread-policies-testing.js';
import type { WrappingKeys } from './wrapping-keys.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

function keys(): WrappingKeys {
  const key = { id: Buffer.alloc(16, 7), key: Buffer.alloc(32, 9) };
  return { current: async () => key, byId: async () => key };
}

async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 10));
}

/**
 * This process's open fds, less eventfds: a byte thread's send pipe makes one when it starts, at the
 * thread's first piped download, which may come in the middle of a test (the pool picks the thread).
 * What a download may leak (its socket's dup, its blob file) is counted.
 */
const openFds = async (): Promise<number> => {
  let n = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target !== 'anon_inode:[eventfd]') n++;
  }
  return n;
};

if (!sockSend() && (process.env.CI || process.env.BERTH_REQUIRE_NATIVE_CIPHER)) throw new Error(`no socket writer: ${sockSendUnavailable()}`);

/** What the server saw of each response: bytes through write()/end(), bytes the thread reported, and how writeTo ended. */
interface Served {
  written: number;
  sentPast: number;
  error: Error | undefined;
  /** Whether the download said its client was cut by the response rule (SendTarget.cut). */
  cut?: boolean;
  /** At the response's close: whether it had ended (what the access log calls not aborted). */
  finishedAtClose?: boolean;
}

/** A blob server as the GET handler is: headers first, then the download writes itself, given the socket's fd. */
async function serve(store: BlobStore): Promise<{ server: Server; url: string; port: number; served: Served[] }> {
  const served: Served[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const s: Served = { written: 0, sentPast: 0, error: undefined };
    served.push(s);
    res.once('close', () => (s.finishedAtClose = res.writableFinished));
    const write = res.write.bind(res) as (...a: unknown[]) => boolean;
    res.write = ((chunk: Buffer, ...rest: unknown[]) => {
      s.written += chunk.length;
      return write(chunk, ...rest);
    }) as typeof res.write;
    const end = res.end.bind(res) as (...a: unknown[]) => ServerResponse;
    res.end = ((chunk?: unknown, ...rest: unknown[]) => {
      if (chunk instanceof Uint8Array) s.written += chunk.length;
      return end(chunk, ...rest);
    }) as typeof res.end;
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const digest = `sha256:${url.pathname.slice(1)}` as Digest;
      const r = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      const range = r ? { start: Number(r[1]), end: Number(r[2]) } : undefined;
      const size = Number(url.searchParams.get('size'));
      try {
        const body = await store.read(digest, range);
        assert.ok(isDirectBody(body));
        res.writeHead(range ? 206 : 200, { 'Content-Length': range ? range.end - range.start + 1 : size });
        const fd = (res.socket as unknown as { _handle: { fd: number } })._handle.fd;
        await body.writeTo(res, { socketFd: fd, sentPast: (n) => (s.sentPast += n), cut: () => (s.cut = true) });
      } catch (e) {
        s.error = e as Error;
        if (!res.headersSent) res.writeHead(500).end();
      }
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { server, url: `http://127.0.0.1:${port}`, port, served };
}

const hashOf = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A GET by Node's client: status and body. */
function fetchBody(url: string, headers: Record<string, string> = {}, agent?: Agent): Promise<{ status: number; body: Buffer; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { headers, ...(agent && { agent }) }, (res) => {
      const pieces: Buffer[] = [];
      res.on('data', (p: Buffer) => pieces.push(p));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(pieces), reused: req.reusedSocket }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/**
 * A raw connection: sends `request`, collects what arrives (stops reading once it has
 * `stopAfter` bytes), `closed` once the server has closed it.
 */
function raw(port: number, request: string, stopAfter = Infinity): { socket: Socket; data: () => Buffer; closed: Promise<void>; readOn(): void } {
  const socket = connect(port, '127.0.0.1');
  const pieces: Buffer[] = [];
  let have = 0;
  socket.on('data', (p: Buffer) => {
    pieces.push(p);
    have += p.length;
    if (have >= stopAfter) socket.pause();
  });
  socket.on('error', () => undefined);
  socket.write(request);
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  const readOn = (): void => {
    stopAfter = Infinity;
    socket.resume();
  };
  return { socket, data: () => Buffer.concat(pieces), closed, readOn };
}

/**
 * Past the ring's three 1 MiB slots, which the main thread writes before it lets the thread have
 * the socket (the thread was told to fill no more before the first was written): whatever a client
 * has beyond this came from the thread.
 */
const PAST_THE_RING = 4 * MiB;

/** The body after the first header section of `data`. */
const bodyOf = (data: Buffer): Buffer => data.subarray(data.indexOf('\r\n\r\n') + 4);

// Each suite twice: the byte thread writing each piece itself, and through its send pipe (open-pipe.ts).
for (const pipe of [false, true]) {
  const how = pipe ? 'through its send pipe' : 'written by the byte thread';
  describe(`downloads sent by their opening thread, ${how}`, { skip: sockSend() ? false : `no socket writer: ${sockSendUnavailable()}` }, () => {
    const threads = new ByteThreads({ threads: 2 });
    const pool = new OpenPool(threads, { threadSends: { stallMs: 60_000, pipe, pipeBatch: pipe } });
    const roots: string[] = [];
    const stores = new Map<number, BlobStore>();
    let http: Awaited<ReturnType<typeof serve>>;
    /** One store per chunk size (blobs keep the chunk size they were sealed with; reads are by digest on any of them). */
    let root = '';
    before(async () => {
      root = await mkdtemp(join(tmpdir(), 'berth-open-send-'));
      roots.push(root);
      for (const chunkSize of [1024, 64 * 1024, 256 * 1024]) {
        stores.set(chunkSize, createEncryptedBlobStore(createFsBlobStore({ root }), keys(), { chunkSize, opening: pool, inlineOpenBytes: 0 }));
      }
      http = await serve(stores.get(64 * 1024)!);
    });
    after(async () => {
      http.server.closeAllConnections();
      await new Promise((r) => http.server.close(r));
      await threads.close();
      for (const r of roots) await rm(r, { recursive: true, force: true });
    });
    const pathOf = (digest: Digest): string => {
      const hex = digestHex(digest);
      return join(root, 'blobs', 'sha256', hex.slice(0, 2), hex);
    };
    const urlOf = (digest: Digest, size: number): string => `${http.url}/${digestHex(digest)}?size=${size}`;

    it('sends blobs of several sizes and chunk sizes whole through curl, counting every byte once', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'berth-open-send-out-'));
      roots.push(dir);
      const sent = pool.threadSent;
      for (const [chunkSize, store] of stores) {
        for (const size of [1, 100_000, 3 * MiB + 5, 12 * MiB + 1]) {
          const data = bytes(size, size % 251);
          const digest = await putBlob(store, data);
          const before = http.served.length;
          const out = join(dir, 'blob');
          const { stdout } = await run('curl', ['-sS', '-o', out, '-w', '%{http_code} %{size_download}', urlOf(digest, size)]);
          assert.equal(stdout, `200 ${size}`, `chunk ${chunkSize}, size ${size}`);
          assert.equal(hashOf(await readFile(out)), hashOf(data), `chunk ${chunkSize}, size ${size}`);
          const s = http.served[before]!;
          assert.equal(s.error, undefined);
          assert.equal(s.written + s.sentPast, size, `chunk ${chunkSize}, size ${size}: bytes through the response plus the thread's`);
        }
      }
      // Blobs larger than the first ring slots went out from the threads.
      assert.ok(pool.threadSent - sent >= 6, `${pool.threadSent - sent} sent by threads`);
      await until(() => pool.active === 0);
    });

    it("writes a download's pieces from its thread's send pipe, a thread of its own, while the byte thread opens the next", { skip: !pipe }, async () => {
      const size = 24 * MiB + 7;
      const data = bytes(size, 5);
      const digest = await putBlob(stores.get(256 * 1024)!, data);
      const sent = pool.threadSent;
      const { stdout } = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', urlOf(digest, size)]);
      assert.equal(stdout, `200 ${size}`);
      assert.equal(pool.threadSent - sent, 1);
      // The pipe's thread (native/send-pipe.cc) is named; without it the byte thread sends alone.
      const names = await Promise.all((await readdir('/proc/self/task')).map((t) => readFile(`/proc/self/task/${t}/comm`, 'utf8').catch(() => '')));
      assert.ok(
        names.some((n) => n.trim() === 'berth-send'),
        `threads: ${names.map((n) => n.trim()).join(', ')}`,
      );
      // Asked for (pipeBatch), it runs as SCHED_BATCH (policy 3).
      const policies = await threadPolicies('self', 'berth-send');
      assert.ok(
        policies.every((p) => p === 3),
        `berth-send policies: ${policies.join(', ')}`,
      );
      await until(() => pool.active === 0);
    });

    it('sends exact ranges, across chunk and piece edges', async () => {
      const size = 9 * MiB + 333;
      const data = bytes(size, 3);
      const digest = await putBlob(stores.get(64 * 1024)!, data);
      const sent = pool.threadSent;
      for (const [start, end] of [
        [0, size - 1],
        [65_535, 5 * MiB],
        [3 * MiB + 7, size - 2],
        [size - 70_000, size - 1],
      ] as const) {
        const got = await fetchBody(urlOf(digest, size), { range: `bytes=${start}-${end}` });
        assert.equal(got.status, 206);
        assert.ok(got.body.equals(data.subarray(start, end + 1)), `${start}-${end}`);
      }
      assert.ok(pool.threadSent - sent >= 3);
    });

    it('answers the next request on the same connection after a sent download, and pipelined requests in order', async () => {
      const size = 6 * MiB + 11;
      const data = bytes(size, 4);
      const digest = await putBlob(stores.get(64 * 1024)!, data);
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        for (let i = 0; i < 3; i++) {
          const got = await fetchBody(urlOf(digest, size), {}, agent);
          assert.equal(got.status, 200);
          assert.equal(got.reused, i > 0, 'one connection for all');
          assert.ok(got.body.equals(data));
        }
      } finally {
        agent.destroy();
      }
      // Two requests at once on one connection: the second's answer must wait for the whole first.
      const path = `/${digestHex(digest)}?size=${size}`;
      const sent = pool.threadSent;
      const c = raw(http.port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\nGET ${path} HTTP/1.1\r\nHost: x\r\nRange: bytes=10-19\r\nConnection: close\r\n\r\n`);
      await c.closed;
      const all = c.data();
      const first = bodyOf(all);
      assert.ok(first.subarray(0, size).equals(data), 'the first body whole, nothing of the second inside');
      const second = first.subarray(size);
      assert.match(second.toString('latin1'), /^HTTP\/1\.1 206 /);
      assert.ok(bodyOf(second).equals(data.subarray(10, 20)));
      assert.equal(pool.threadSent - sent, 1, 'the first went out from its thread');
    });

    it('has ended the response before a client that hangs up on the last byte could see it whole', async () => {
      const size = 6 * MiB + 9;
      const data = bytes(size, 10);
      const digest = await putBlob(stores.get(64 * 1024)!, data);
      const sent = pool.threadSent;
      for (let i = 0; i < 50; i++) {
        const before = http.served.length;
        const socket = connect(http.port, '127.0.0.1');
        socket.on('error', () => undefined);
        let head = -1;
        let have = 0;
        const pieces: Buffer[] = [];
        socket.on('data', (p: Buffer) => {
          have += p.length;
          if (head < 0) {
            pieces.push(p);
            const at = Buffer.concat(pieces).indexOf('\r\n\r\n');
            if (at >= 0) head = at + 4;
          }
          // Gone the instant the body is whole, as curl is.
          if (head >= 0 && have - head >= size) socket.destroy();
        });
        socket.write(`GET /${digestHex(digest)}?size=${size} HTTP/1.1\r\nHost: x\r\n\r\n`);
        await until(() => http.served[before]?.finishedAtClose !== undefined);
        assert.equal(http.served[before]!.finishedAtClose, true, `download ${i}`);
        assert.equal(http.served[before]!.error, undefined);
      }
      assert.equal(pool.threadSent - sent, 50);
    });

    it('stops at a client that hangs up midway: its fds are closed and the next download is served', async () => {
      const size = 24 * MiB;
      const data = bytes(size, 5);
      const digest = await putBlob(stores.get(64 * 1024)!, data);
      await until(() => pool.active === 0);
      const fds = await openFds();
      const files = await openFilesUnder(root);
      for (let i = 0; i < 4; i++) {
        const before = http.served.length;
        const sent = pool.threadSent;
        // Paused past the ring: a client reading on could have the whole blob before the hang-up
        // below (a late timer on a busy machine), and the download would end without an error.
        const c = raw(http.port, `GET /${digestHex(digest)}?size=${size} HTTP/1.1\r\nHost: x\r\n\r\n`, PAST_THE_RING);
        // Until the thread has the socket and the body is flowing, then hang up.
        await until(() => pool.threadSent > sent && c.data().length > 2 * MiB);
        c.socket.destroy();
        await until(() => http.served[before]?.error !== undefined);
        assert.match(http.served[before]!.error!.message, /went away|ECONNRESET|EPIPE/);
      }
      await until(async () => pool.active === 0 && (await openFilesUnder(root)) === files && (await openFds()) <= fds);
      const got = await fetchBody(urlOf(digest, size));
      assert.ok(got.body.equals(data));
    });

    it('lets a client that stops reading hold no thread: downloads on the same threads go on', async () => {
      const size = 48 * MiB;
      const data = bytes(size, 6);
      const digest = await putBlob(stores.get(64 * 1024)!, data);
      await until(() => pool.active === 0);
      const fds = await openFds();
      // One stalled reader per thread: each thread has a socket that takes nothing.
      const sent = pool.threadSent;
      const stalled = [0, 1].map(() => raw(http.port, `GET /${digestHex(digest)}?size=${size} HTTP/1.1\r\nHost: x\r\n\r\n`, PAST_THE_RING));
      await until(() => pool.threadSent - sent >= 2 && stalled.every((c) => c.data().length >= PAST_THE_RING));
      const small = bytes(5 * MiB, 7);
      const smallDigest = await putBlob(stores.get(64 * 1024)!, small);
      const got = await Promise.all([0, 1, 2, 3].map(() => fetchBody(urlOf(smallDigest, small.length))));
      for (const g of got) assert.ok(g.body.equals(small));
      for (const c of stalled) c.socket.destroy();
      await until(async () => pool.active === 0 && (await openFds()) <= fds);
    });

    it('completes many downloads at once on two threads, each with its own bytes', async () => {
      // Larger than a ring: a blob the thread has opened whole before it is asked goes the ring's way.
      const blobs = Array.from({ length: 12 }, (_, i) => bytes(5 * MiB + i * 1000, 20 + i));
      const digests = await Promise.all(blobs.map((b) => putBlob(stores.get(64 * 1024)!, b)));
      const sent = pool.threadSent;
      const got = await Promise.all(digests.map((d, i) => fetchBody(urlOf(d, blobs[i]!.length))));
      for (const [i, g] of got.entries()) assert.ok(g.body.equals(blobs[i]!), `download ${i}`);
      assert.ok(pool.threadSent - sent >= 6, `${pool.threadSent - sent} of 12 sent by threads`);
      await until(() => pool.active === 0);
    });

    it('cuts the connection at a chunk that fails its tag, sending nothing of that chunk', async () => {
      const chunk = 64 * 1024;
      const size = 8 * MiB;
      const data = bytes(size, 8);
      const digest = await putBlob(stores.get(chunk)!, data);
      const good = await readFile(pathOf(digest));
      // Chunk 70 (past the ring's first slots, so its thread has the socket by then).
      const bad = Buffer.from(good);
      bad[HEADER_SIZE + 70 * (chunk + TAG_SIZE) + 100]! ^= 1;
      await writeFile(pathOf(digest), bad);
      const fds = await openFds();
      const before = http.served.length;
      const sent = pool.threadSent;
      const c = raw(http.port, `GET /${digestHex(digest)}?size=${size} HTTP/1.1\r\nHost: x\r\n\r\n`);
      await c.closed;
      const body = bodyOf(c.data());
      assert.equal(pool.threadSent - sent, 1);
      assert.ok(body.length <= 70 * chunk, `${body.length} bytes sent: none of chunk 70`);
      assert.ok(body.length >= MiB, 'the chunks before it went out');
      assert.ok(body.equals(data.subarray(0, body.length)), "what was sent is the blob's prefix");
      assert.match(http.served[before]!.error!.message, /authenticat|integrity|tag/i);
      await writeFile(pathOf(digest), good);
      await until(async () => pool.active === 0 && (await openFds()) <= fds);
    });
  });

  describe(`a sent download whose client takes too little, ${how}`, {
    skip: sockSend() ? false : `no socket writer: ${sockSendUnavailable()}`,
    timeout: 120_000,
  }, () => {
    const threads = new ByteThreads({ threads: 1 });
    // The response rule at 32 MiB a second: a reader of ~1 MB/s falls below it, as one that stops does.
    const pool = new OpenPool(threads, { threadSends: { stallMs: 1000, minBytes: 32 * MiB, pipe } });
    let root = '';
    let http: Awaited<ReturnType<typeof serve>>;
    let store: BlobStore;
    before(async () => {
      root = await mkdtemp(join(tmpdir(), 'berth-open-send-stall-'));
      store = createEncryptedBlobStore(createFsBlobStore({ root }), keys(), { opening: pool, inlineOpenBytes: 0 });
      http = await serve(store);
    });
    after(async () => {
      http.server.closeAllConnections();
      await new Promise((r) => http.server.close(r));
      await threads.close();
      await rm(root, { recursive: true, force: true });
    });

    it('is given up after the stall time: the connection is cut, its fds closed, and the thread serves on', async () => {
      const size = 48 * MiB;
      const data = bytes(size, 9);
      const digest = await putBlob(store, data);
      // The byte thread starts on first use, with fds of its own: counted from a warm pool.
      assert.equal((await fetchBody(`${http.url}/${digestHex(digest)}?size=${size}`, { range: 'bytes=0-9' })).status, 206);
      await until(() => pool.active === 0);
      const fds = await openFds();
      const c = raw(http.port, `GET /${digestHex(digest)}?size=${size} HTTP/1.1\r\nHost: x\r\n\r\n`, PAST_THE_RING);
      await until(() => http.served[1]?.error !== undefined);
      assert.ok(c.data().length >= PAST_THE_RING, 'the thread had the socket');
      assert.match(http.served[1]!.error!.message, /took fewer than 33554432 bytes in 1 s/);
      assert.equal(http.served[1]!.cut, true, 'the response was told it was cut by the rule');
      // Reading on, the client finds its response cut short.
      c.readOn();
      await c.closed;
      assert.ok(bodyOf(c.data()).length < size);
      assert.equal(pool.threadSent, 1);
      await until(async () => pool.active === 0 && (await openFds()) <= fds);
      const got = await fetchBody(`${http.url}/${digestHex(digest)}?size=${size}`);
      assert.ok(got.body.equals(data));
    });

    it('is cut when it keeps taking bytes, but fewer than the rule asks in a window', async () => {
      const size = 48 * MiB;
      const digest = await putBlob(store, bytes(size, 10));
      const n = http.served.length;
      const sent = pool.threadSent;
      const socket = connect(http.port, '127.0.0.1');
      // At most 64 KiB per 50 ms: it never stops reading, and never takes 32 MiB in a second.
      socket.on('data', () => {
        socket.pause();
        setTimeout(() => socket.resume(), 50);
      });
      socket.on('error', () => undefined);
      socket.write(`GET /${digestHex(digest)}?size=${size} HTTP/1.1\r\nHost: x\r\n\r\n`);
      await until(() => http.served[n]?.error !== undefined);
      socket.destroy();
      assert.equal(pool.threadSent, sent + 1, 'the thread had the socket');
      assert.match(http.served[n]!.error!.message, /took fewer than/);
      assert.equal(http.served[n]!.cut, true);
      await until(() => pool.active === 0);
    });
  });
}
