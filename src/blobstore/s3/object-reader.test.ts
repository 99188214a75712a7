/**
 * Blob reads over the object reader's own sockets (object-reader.ts), against the real S3 server
 * of the tests (Ceph RGW), served over real HTTP the way the blob GET handler serves them
 * (sendBody: writeTo on the socket). A TCP proxy between the store and the gateway counts
 * connections and breaks them on cue: mid-body, or when a kept-alive connection is reused.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpServer, get, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, connect, type Server as TcpServer, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { isDirectBody, sendBody } from '../../core/direct-body.js';
import { digestOf, type Digest } from '../../core/digest.js';
import { BlobNotFoundError, type BlobStore, type ByteRange } from '../blob-store.js';
import { bytes, putBlob, readAll } from '../testing.js';
import type { Readable } from 'node:stream';
import type { HeldBytes } from '../../core/download-budget.js';
import { LEAN_SLAB_BYTES, SLAB_BYTES } from './object-body.js';
import { createS3BlobStore, parseS3Location } from './s3-blob-store.js';
import { startS3TestServer } from './testing/s3-test-server.js';

const server = await startS3TestServer();
if ('unavailable' in server && (process.env.CI || process.env.BERTH_REQUIRE_S3)) throw new Error(`no S3 test server on CI: ${server.unavailable}`);
const skip = 'unavailable' in server ? `no S3 server on this machine (${server.unavailable})` : undefined;

function store(endpoint: string, secret?: string): BlobStore {
  if ('unavailable' in server) throw new Error('unreachable');
  return createS3BlobStore(
    parseS3Location(`s3://${server.bucket}/berth-test-${randomUUID()}`, {
      endpoint,
      region: server.region,
      accessKeyId: server.accessKeyId,
      secretAccessKey: secret ?? server.secretAccessKey,
      forcePathStyle: true,
    }),
  );
}

/** A TCP relay to the gateway that can cut a connection after `cutAfter` bytes answered, or on its second request. */
interface Proxy {
  endpoint: string;
  opened: number;
  closed: number;
  cutAfter: number | undefined;
  dropSecondRequest: boolean;
  server: TcpServer;
  /**
   * Stops listening and cuts every relayed connection. The clients' idle sockets are unref'd, but
   * the relay's ends of them are not: left open, they kept this file's process alive until the
   * gateway dropped its idle connections (RGW's request timeout, 65 s), long after the last test.
   */
  close(): void;
}

async function startProxy(target: URL): Promise<Proxy> {
  const open = new Set<Socket>();
  const p: Proxy = {
    endpoint: '',
    opened: 0,
    closed: 0,
    cutAfter: undefined,
    dropSecondRequest: false,
    server: undefined as unknown as TcpServer,
    close() {
      p.server.close();
      for (const s of open) s.destroy();
    },
  };
  p.server = createTcpServer((down: Socket) => {
    p.opened++;
    const up = connect(Number(target.port), target.hostname);
    for (const s of [down, up]) {
      open.add(s);
      s.once('close', () => open.delete(s));
    }
    let answered = 0;
    let requests = 0;
    const cut = () => {
      down.destroy();
      up.destroy();
    };
    down.on('close', () => {
      p.closed++;
      up.destroy();
    });
    up.on('close', () => down.destroy());
    down.on('error', () => undefined);
    up.on('error', () => undefined);
    down.on('data', (d: Buffer) => {
      // A GET carries no body: every packet starting with a method is a new request.
      if (/^[A-Z]+ /.test(d.toString('latin1', 0, 8)) && ++requests === 2 && p.dropSecondRequest) return cut();
      up.write(d);
    });
    up.on('data', (d: Buffer) => {
      answered += d.length;
      if (p.cutAfter !== undefined && answered > p.cutAfter) {
        down.write(d.subarray(0, d.length - (answered - p.cutAfter)));
        return cut();
      }
      if (!down.write(d)) up.pause();
    });
    down.on('drain', () => up.resume());
  });
  p.server.listen(0, '127.0.0.1');
  await once(p.server, 'listening');
  p.endpoint = `http://127.0.0.1:${(p.server.address() as { port: number }).port}`;
  return p;
}

/** Serves GET /<digest>?start=&end= from `blobs` as the blob handler does: sendBody to the response. */
async function serveBlobs(blobs: () => BlobStore, results: Array<Error | undefined>): Promise<{ url: string; http: HttpServer }> {
  const http = createHttpServer((req, res) => {
    const u = new URL(req.url!, 'http://x');
    const range: ByteRange | undefined = u.searchParams.has('start')
      ? { start: Number(u.searchParams.get('start')), end: Number(u.searchParams.get('end')) }
      : undefined;
    void (async () => {
      const body = await blobs().read(u.pathname.slice(1) as Digest, range);
      assert.ok(isDirectBody(body), 'an S3 read writes itself to the socket');
      res.writeHead(200);
      await sendBody(body, res);
    })().then(
      () => results.push(undefined),
      (e: Error) => {
        results.push(e);
        res.destroy();
      },
    );
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  return { url: `http://127.0.0.1:${(http.address() as { port: number }).port}`, http };
}

/** GETs `url`; `hangUpAfter` bytes in, the client goes away. Resolves with what arrived and whether it ended cleanly. */
function fetchBytes(url: string, hangUpAfter?: number): Promise<{ data: Buffer; complete: boolean }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let n = 0;
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        n += c.length;
        if (hangUpAfter !== undefined && n >= hangUpAfter) res.destroy();
      });
      res.on('end', () => resolve({ data: Buffer.concat(chunks), complete: true }));
      res.on('close', () => resolve({ data: Buffer.concat(chunks), complete: false }));
    }).on('error', reject);
  });
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

if (skip) it('s3 object reader against a real S3 server', { skip }, () => undefined);
else
  describe('s3 object reader', () => {
    const s3 = server as Exclude<typeof server, { unavailable: string }>;
    const closers: Array<() => unknown> = [];
    after(async () => {
      for (const c of closers) await c();
      await s3.stop();
    });

    async function setUp() {
      const proxy = await startProxy(new URL(s3.endpoint));
      const blobs = store(proxy.endpoint);
      const results: Array<Error | undefined> = [];
      const web = await serveBlobs(() => blobs, results);
      closers.push(
        () => web.http.close(),
        () => proxy.close(),
      );
      return { proxy, blobs, results, url: web.url };
    }

    // Over three slabs, and not a multiple of anything.
    const data = bytes(3 * SLAB_BYTES + 12_345, 7);
    const digest = digestOf(data);

    it('serves whole blobs and ranges byte-exact over HTTP and as a stream, across slab edges', async () => {
      const { blobs, url, results } = await setUp();
      await putBlob(blobs, data);
      const ranges: Array<ByteRange | undefined> = [
        undefined,
        { start: 0, end: 0 },
        { start: SLAB_BYTES - 1, end: SLAB_BYTES },
        { start: 1_500_000, end: data.length - 1 },
      ];
      for (const r of ranges) {
        const want = r ? data.subarray(r.start, r.end + 1) : data;
        const got = await fetchBytes(`${url}/${digest}${r ? `?start=${r.start}&end=${r.end}` : ''}`);
        assert.ok(got.complete);
        assert.ok(got.data.equals(want), `HTTP ${JSON.stringify(r)}`);
        assert.ok((await readAll(await blobs.read(digest, r))).equals(want), `stream ${JSON.stringify(r)}`);
      }
      assert.deepEqual(results.filter(Boolean), []);
    });

    it('reads a body told lean() into 64 KiB slabs, byte-exact, and full slabs again on the connection`s next read', async () => {
      const { proxy, blobs } = await setUp();
      await putBlob(blobs, data);
      const pieces = async (lean: boolean) => {
        const body = (await blobs.read(digest)) as Readable & Partial<HeldBytes>;
        assert.equal(body.leanHeldBytes, 3 * LEAN_SLAB_BYTES);
        if (lean) body.lean!();
        const got: Buffer[] = [];
        for await (const p of body) got.push(p as Buffer);
        assert.ok(Buffer.concat(got).equals(data), `lean ${lean}: byte-exact`);
        return got;
      };
      const opened = proxy.opened;
      // The download budget's lean grant: every read lands in a lean slab (the head's first
      // piece comes with the head, copied).
      const lean = await pieces(true);
      assert.ok(
        lean.every((p) => p.length <= LEAN_SLAB_BYTES),
        `pieces of at most 64 KiB (largest ${Math.max(...lean.map((p) => p.length))})`,
      );
      // The same connection (kept alive) reads a body not told lean into full slabs again.
      const full = await pieces(false);
      assert.equal(proxy.opened - opened, 1, 'one connection for both');
      assert.ok(
        full.every((p) => p.length <= SLAB_BYTES),
        'pieces of at most a slab',
      );
    });

    it('keeps connections alive: 30 reads in a row, each whole, over one connection', async () => {
      const { proxy, blobs, url } = await setUp();
      const small = bytes(1000, 8);
      await putBlob(blobs, data);
      await putBlob(blobs, small);
      const opened = proxy.opened;
      for (let i = 0; i < 30; i++) {
        const [d, want] = i % 3 === 0 ? [digestOf(small), small] : [digest, data];
        const got = i % 2 === 0 ? (await fetchBytes(`${url}/${d}`)).data : await readAll(await blobs.read(d));
        assert.ok(got.equals(want), `read ${i}`);
      }
      assert.equal(proxy.opened - opened, 1);
    });

    it('retries a kept-alive connection that the server dropped on a fresh one', async () => {
      const { proxy, blobs } = await setUp();
      await putBlob(blobs, data);
      assert.ok((await readAll(await blobs.read(digest))).equals(data));
      proxy.dropSecondRequest = true;
      const opened = proxy.opened;
      assert.ok((await readAll(await blobs.read(digest))).equals(data));
      assert.equal(proxy.opened - opened, 1, 'one fresh connection');
    });

    it('cuts the response when S3 breaks off mid-body, sending only a prefix', async () => {
      const { proxy, blobs, url, results } = await setUp();
      await putBlob(blobs, data);
      proxy.cutAfter = SLAB_BYTES + 100;
      const got = await fetchBytes(`${url}/${digest}`);
      assert.equal(got.complete, false);
      assert.ok(got.data.length < data.length && data.subarray(0, got.data.length).equals(got.data));
      await until(() => results.length === 1);
      assert.match(String(results[0]?.message), /closed with \d+ bytes of the object unread/);
      proxy.cutAfter = undefined;
      assert.ok((await fetchBytes(`${url}/${digest}`)).data.equals(data), 'the next read is whole');
    });

    it('closes the S3 connection when the client hangs up, and reads on', async () => {
      const { proxy, blobs, url, results } = await setUp();
      // More than loopback's socket buffers hold, so that the server is still sending when the client goes.
      const large = bytes(32 * SLAB_BYTES, 11);
      const largeDigest = await putBlob(blobs, large);
      const closed = proxy.closed;
      const got = await fetchBytes(`${url}/${largeDigest}`, 256 * 1024);
      assert.equal(got.complete, false);
      await until(() => results.length === 1 && proxy.closed > closed);
      assert.ok(results[0] instanceof Error, `the send failed: ${String(results[0])}`);
      assert.ok((await fetchBytes(`${url}/${largeDigest}`)).data.equals(large));
    });

    it('stops on an abort signal mid-body and drops the connection', async () => {
      const { proxy, blobs } = await setUp();
      await putBlob(blobs, data);
      const ac = new AbortController();
      const body = await blobs.read(digest, undefined, ac.signal);
      const closed = proxy.closed;
      let seen = 0;
      await assert.rejects(
        (async () => {
          for await (const c of body) {
            seen += (c as Buffer).length;
            ac.abort();
          }
        })(),
        { name: 'AbortError' },
      );
      assert.ok(seen < data.length);
      await until(() => proxy.closed > closed);
    });

    it('answers as the SDK did: a missing blob, refused credentials', async () => {
      const { blobs } = await setUp();
      await assert.rejects(blobs.read(digestOf(bytes(10, 9))), BlobNotFoundError);
      await putBlob(blobs, data);
      const wrong = store(s3.endpoint, 'not-the-secret');
      await assert.rejects(wrong.read(digest), (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
        assert.equal(e.$metadata?.httpStatusCode, 403);
        assert.match(e.name, /^[A-Z][A-Za-z]+$/);
        return true;
      });
    });

    it('hands a server error (503 SlowDown) to the SDK, whose retry reads the blob', async () => {
      const body = bytes(200_000, 12);
      let gets = 0;
      const busy = createHttpServer((_req, res) => {
        if (++gets === 1) {
          const xml = '<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>';
          res.writeHead(503, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(xml) }).end(xml);
        } else {
          res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length }).end(body);
        }
      });
      busy.listen(0, '127.0.0.1');
      await once(busy, 'listening');
      closers.push(() => busy.close());
      const blobs = store(`http://127.0.0.1:${(busy.address() as { port: number }).port}`);
      assert.ok((await readAll(await blobs.read(digestOf(body)))).equals(body));
      assert.equal(gets, 2);
    });

    it('reads an answer without Content-Length the SDK way', async () => {
      // A server that frames every GET in chunks; the SDK's fallback read goes to it too.
      const body = bytes(300_000, 10);
      const chunked = createHttpServer((_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        for (let i = 0; i < body.length; i += 70_000) res.write(body.subarray(i, i + 70_000));
        res.end();
      });
      chunked.listen(0, '127.0.0.1');
      await once(chunked, 'listening');
      closers.push(() => chunked.close());
      const blobs = store(`http://127.0.0.1:${(chunked.address() as { port: number }).port}`);
      assert.ok((await readAll(await blobs.read(digestOf(body)))).equals(body));
    });
  });
