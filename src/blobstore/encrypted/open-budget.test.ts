/**
 * The bound on what downloads in flight hold (download-budget.ts, open-pool.ts), over real HTTP:
 * a Node HTTP/1.1 server and a plaintext h2 server in this process answer GETs as the blob
 * handler does, from sealed blobs on the fs driver, with a pool whose budget is small. Clients
 * that never read (raw sockets, paused h2 streams) hold downloads open; past the budget's full
 * share they get lean rings, past the whole budget a download is refused with 429 and
 * Retry-After; a fast download beside them (curl, an h2 stream) gets exact bytes; once they
 * leave, the budget and their blob files are free again. Conditions are waited for, never a clock.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  constants,
  connect as h2connect,
  createServer as createH2Server,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from 'node:http2';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { isDirectBody } from '../../core/direct-body.js';
import { digestHex, type Digest } from '../../core/digest.js';
import { RegistryError } from '../../core/errors.js';
import type { BlobStore } from '../blob-store.js';
import { createFsBlobStore } from '../fs/fs-blob-store.js';
import { bytes, openFilesUnder, putBlob } from '../testing.js';
import { ByteThreads } from '../workers/threads.js';
import { createEncryptedBlobStore } from './encrypted-blob-store.js';
import { OpenPool } from './open-pool.js';
import type { WrappingKeys } from './wrapping-keys.js';

const run = promisify(execFile);
const KiB = 1024;
const MiB = 1024 * KiB;
/** 8 MiB: one full ring (3 MiB) fits its half, then lean rings (two 64 KiB chunks) fill the rest. */
const BUDGET = 8 * MiB;
const LEAN = 2 * 64 * KiB;
/** Downloads the budget admits at once: one full, then lean ones. */
const ADMITTED = 1 + Math.floor((BUDGET - 3 * MiB) / LEAN);

function keys(): WrappingKeys {
  const key = { id: Buffer.alloc(16, 7), key: Buffer.alloc(32, 9) };
  return { current: async () => key, byId: async () => key };
}

async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 10));
}

/** A GET as the blob handler answers it: the download writes itself; a refusal is its status and Retry-After. */
function answer(store: BlobStore, size: number) {
  return async (req: IncomingMessage | Http2ServerRequest, response: ServerResponse | Http2ServerResponse): Promise<void> => {
    // Both answer writeHead/end/headersSent alike (h2's compatibility API).
    const res = response as ServerResponse;
    const digest = `sha256:${(req.url ?? '/').slice(1)}` as Digest;
    try {
      const body = await store.read(digest);
      assert.ok(isDirectBody(body));
      res.writeHead(200, { 'Content-Length': size });
      await body.writeTo(res);
    } catch (e) {
      if (res.headersSent) return;
      if (e instanceof RegistryError) {
        res.writeHead(e.code.status, { 'Retry-After': String(e.hints.retryAfterSeconds ?? '') });
        res.end(e.code.oci);
      } else {
        res.writeHead(500).end();
      }
    }
  };
}

/** A raw HTTP/1.1 client that sends its GET and never reads the answer. */
function stalled(port: number, path: string): Socket {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.pause();
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
  return socket;
}

describe('downloads in flight hold no more than the pool budget', () => {
  const threads = new ByteThreads({ threads: 2 });
  const pool = new OpenPool(threads, { bufferBytes: BUDGET, bufferWaitMs: 200 });
  const blob = bytes(24 * MiB + 123, 5);
  const hex = createHash('sha256').update(blob).digest('hex');
  let root = '';
  let store: BlobStore;
  let http: Server;
  let h2: Http2Server;
  let port = 0;
  let h2port = 0;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-open-budget-'));
    store = createEncryptedBlobStore(createFsBlobStore({ root }), keys(), { opening: pool, inlineOpenBytes: 0 });
    assert.equal(digestHex(await putBlob(store, blob)), hex);
    const serve = answer(store, blob.length);
    http = createServer((req, res) => void serve(req, res));
    h2 = createH2Server((req, res) => void serve(req, res));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
    port = (http.address() as AddressInfo).port;
    h2port = (h2.address() as AddressInfo).port;
  });
  after(async () => {
    http?.closeAllConnections();
    await new Promise((r) => http?.close(r));
    await new Promise((r) => h2?.close(r));
    await threads.close();
    await rm(root, { recursive: true, force: true });
  });

  /** Every download's rings within the budget, whichever way they are counted. */
  const withinBudget = (): void => {
    assert.ok(pool.ringBytesInFlight <= BUDGET, `rings in flight ${pool.ringBytesInFlight} > ${BUDGET}`);
    assert.ok(pool.budget.held <= BUDGET, `budget held ${pool.budget.held}`);
    assert.ok(pool.budget.heldFull <= BUDGET / 2, `full rings ${pool.budget.heldFull}`);
  };

  it('gives readers past the full share lean rings, serves a fast download beside them, and refuses past the whole budget with 429', async () => {
    const lean0 = pool.budget.leanGrants;
    const refused0 = pool.budget.refused;
    // Half the lean room taken by clients that never read.
    const first = Array.from({ length: Math.floor(ADMITTED / 2) }, () => stalled(port, `/${hex}`));
    await until(() => pool.active === first.length);
    withinBudget();
    assert.ok(pool.budget.leanGrants - lean0 >= first.length - 1, `lean rings: ${pool.budget.leanGrants - lean0}`);
    assert.ok(pool.ringBytesInFlight < first.length * 3 * MiB, 'the stalled readers hold lean rings, not full ones');

    // An honest download beside them is whole and exact.
    const out = join(root, 'fast.bin');
    const { stdout } = await run('curl', ['-s', '-o', out, '-w', '%{http_code}', `http://127.0.0.1:${port}/${hex}`]);
    assert.equal(stdout, '200');
    const { stdout: sum } = await run('sha256sum', [out]);
    assert.equal(sum.split(' ')[0], hex);

    // More stalled readers than the budget admits: it never holds more, and the rest are refused.
    const more = Array.from({ length: ADMITTED - first.length + 4 }, () => stalled(port, `/${hex}`));
    await until(() => pool.active === ADMITTED && pool.budget.refused - refused0 >= 4);
    withinBudget();
    const refusedAnswer = await run('curl', ['-s', '-D', '-', '-o', '/dev/null', `http://127.0.0.1:${port}/${hex}`]);
    assert.match(refusedAnswer.stdout, /^HTTP\/1\.1 429/);
    assert.match(refusedAnswer.stdout, /^Retry-After: 1\r?$/im);

    // Once they leave, the budget and their blob files are free, and a download gets a full ring again.
    for (const s of [...first, ...more]) s.destroy();
    await until(async () => pool.budget.held === 0 && pool.active === 0 && (await openFilesUnder(root)) === 0);
    const made = pool.ringsMade;
    const again = await run('curl', ['-s', '-o', out, '-w', '%{http_code} %{size_download}', `http://127.0.0.1:${port}/${hex}`]);
    assert.equal(again.stdout, `200 ${blob.length}`);
    assert.ok(pool.ringsMade - made <= 1);
  });

  it('bounds paused h2 streams the same way, and an h2 stream beside them (another session) gets exact bytes', async () => {
    const refused0 = pool.budget.refused;
    const session = h2connect(`http://127.0.0.1:${h2port}`);
    session.on('error', () => undefined);
    const reader = h2connect(`http://127.0.0.1:${h2port}`);
    try {
      const paused = Array.from({ length: ADMITTED + 3 }, () => {
        const st = session.request({ ':path': `/${hex}` });
        st.on('error', () => undefined);
        st.pause();
        return st;
      });
      // Three were refused (429), none waits: once one paused stream goes, a reading stream gets its turn.
      await until(() => pool.active === ADMITTED && pool.budget.refused - refused0 >= 3 && pool.budget.waiters === 0);
      withinBudget();
      // As a client cancels a request (a reset with NO_ERROR leaves Node's server stream open
      // until the response rule cuts it: notes/2026-12-05-s19-ring.md).
      paused[0]!.close(constants.NGHTTP2_CANCEL);
      // On a session of its own: the paused streams hold their session's connection window.
      const fast = await new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
        const tryOnce = (): void => {
          const st = reader.request({ ':path': `/${hex}` });
          const pieces: Buffer[] = [];
          let status = 0;
          st.on('response', (h) => (status = Number(h[':status'])));
          st.on('data', (p: Buffer) => pieces.push(p));
          st.on('end', () => {
            if (status === 429) setImmediate(tryOnce);
            else resolve({ status, body: Buffer.concat(pieces) });
          });
          st.on('error', reject);
        };
        tryOnce();
      });
      assert.equal(fast.status, 200);
      assert.equal(createHash('sha256').update(fast.body).digest('hex'), hex);
      withinBudget();
      for (const st of paused) st.close();
    } finally {
      session.destroy();
      reader.destroy();
    }
    await until(async () => pool.budget.held === 0 && pool.active === 0 && (await openFilesUnder(root)) === 0);
  });
});
