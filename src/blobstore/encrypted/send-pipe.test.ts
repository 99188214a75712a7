/**
 * The send pipe of native/send-pipe.cc on its own, over real loopback TCP sockets: pieces written
 * whole and in order with onDone on this thread, a socket nobody reads holding neither the pipe
 * nor other sockets' pieces, a piece taken back (pipeCancel) with its partial count, and a client
 * that goes away reported as an errno, and the pipe's thread under the usual scheduling policy or
 * SCHED_BATCH as asked. One pipe per thread: this file starts the main thread's (and a worker's).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { sendPipeAddon, sendPipeUnavailable } from './send-pipe-addon.js';
import { policiesOnce, threadPolicies } from './thread-policies-testing.js';

const MiB = 1024 * 1024;
const addon = sendPipeAddon();
if (!addon && (process.env.CI || process.env.BERTH_REQUIRE_NATIVE_CIPHER)) throw new Error(`no send pipe: ${sendPipeUnavailable()}`);

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
}

const fdOf = (s: Socket): number => (s as unknown as { _handle: { fd: number } })._handle.fd;
const hashOf = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

const policies = (name: string): Promise<number[]> => threadPolicies('self', name);

describe('the send pipe of a thread', { skip: addon ? false : `no send pipe: ${sendPipeUnavailable()}` }, () => {
  const done = new Map<number, { written: number; errno: number }>();
  let server: Server;
  const accepted: Socket[] = [];

  before(async () => {
    assert.equal(
      addon!.pipe((job, written, errno) => done.set(job, { written, errno })),
      true,
    );
    server = createServer((s) => {
      // The pipe writes to this socket's fd; Node must not read it nor write to it.
      s.pause();
      // Clients here hang up on purpose: the pipe, not Node, reports it.
      s.on('error', () => {});
      accepted.push(s);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });

  after(async () => {
    for (const s of accepted) s.destroy();
    server.close();
  });

  /** A connected pair: the client (ours to read), and the server side's fd, the pipe's to write. */
  async function pair(): Promise<{ client: Socket; fd: number }> {
    const n = accepted.length;
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await once(client, 'connect');
    client.on('error', () => {});
    await until(() => accepted.length > n);
    return { client, fd: fdOf(accepted[n]!) };
  }

  it('writes queued pieces whole and in order, and says so on this thread', async () => {
    const data = new Uint8Array(randomBytes(9 * MiB + 3));
    const { client, fd } = await pair();
    const got: Buffer[] = [];
    let total = 0;
    client.on('data', (b: Buffer) => {
      got.push(b);
      total += b.length;
    });
    addon!.pipeSend(1, fd, data, 0, 4 * MiB);
    await until(() => done.has(1));
    addon!.pipeSend(2, fd, data, 4 * MiB, data.length - 4 * MiB);
    await until(() => done.has(2) && total === data.length);
    assert.deepEqual(done.get(1), { written: 4 * MiB, errno: 0 });
    assert.deepEqual(done.get(2), { written: data.length - 4 * MiB, errno: 0 });
    assert.equal(hashOf(Buffer.concat(got)), hashOf(data));
    assert.equal(addon!.pipeProgress(2), -1, 'a job done is no longer the pipe’s');
    client.destroy();
  });

  it('lets a socket nobody reads hold neither the pipe nor other sockets, and takes its piece back', async () => {
    const big = new Uint8Array(64 * MiB);
    const stuck = await pair();
    stuck.client.pause();
    addon!.pipeSend(10, stuck.fd, big, 0, big.length);
    await until(() => addon!.pipeProgress(10) > 0);

    const data = new Uint8Array(randomBytes(3 * MiB));
    const other = await pair();
    let total = 0;
    other.client.on('data', (b: Buffer) => (total += b.length));
    addon!.pipeSend(11, other.fd, data, 0, data.length);
    await until(() => done.has(11) && total === data.length);
    assert.deepEqual(done.get(11), { written: data.length, errno: 0 });

    // 64 MiB cannot fit in a loopback socket's buffers: the piece is still in the pipe, partly written.
    const written = addon!.pipeCancel(10);
    assert.ok(written > 0 && written < big.length, `${written} bytes written`);
    assert.equal(addon!.pipeProgress(10), -1);
    assert.equal(addon!.pipeCancel(10), -1, 'taken back once');
    // A later job still goes through, and the cancelled one never reports.
    const third = await pair();
    third.client.resume();
    addon!.pipeSend(12, third.fd, data, 0, 1024);
    await until(() => done.has(12));
    assert.equal(done.has(10), false);
    stuck.client.destroy();
    other.client.destroy();
    third.client.destroy();
  });

  it('reports a client that went away as an errno, with the bytes it had taken', async () => {
    const big = new Uint8Array(64 * MiB);
    const gone = await pair();
    gone.client.pause();
    addon!.pipeSend(20, gone.fd, big, 0, big.length);
    await until(() => addon!.pipeProgress(20) > 0);
    gone.client.resetAndDestroy();
    await until(() => done.has(20));
    const r = done.get(20)!;
    assert.ok(r.errno > 0, `errno ${r.errno}`);
    assert.ok(r.written < big.length, `${r.written} bytes written`);
  });

  it("runs its thread under the usual policy, or as SCHED_BATCH when started so (a worker's pipe), until its thread ends", async () => {
    assert.deepEqual(await policies('berth-send'), [0]);
    const path = fileURLToPath(new URL('../../../native/send-pipe.node', import.meta.url));
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads');
       parentPort.postMessage(require(${JSON.stringify(path)}).pipe(() => {}, true));
       parentPort.once('message', () => process.exit(0));`,
      { eval: true },
    );
    try {
      const [started] = (await once(worker, 'message')) as [unknown];
      assert.equal(started, true);
      assert.deepEqual(await policiesOnce('self', 'berth-send', [0, 3]), [0, 3]);
    } finally {
      worker.postMessage('end');
      await once(worker, 'exit');
    }
    assert.deepEqual(await policiesOnce('self', 'berth-send', [0]), [0], "the worker's pipe went with it");
    assert.throws(() => addon!.pipe(() => {}, 'yes' as unknown as boolean), /batch must be a boolean/);
  });

  it('refuses a piece outside its buffer, or an empty one, before it is queued', () => {
    const b = new Uint8Array(16);
    assert.throws(() => addon!.pipeSend(30, 0, b, 8, 9), /outside src or empty/);
    assert.throws(() => addon!.pipeSend(31, 0, b, 0, 0), /outside src or empty/);
    assert.throws(() => addon!.pipe(() => {}), /already started/);
  });
});
