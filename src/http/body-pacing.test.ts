/**
 * Body pacing against a real Node HTTP server and real curl uploads (each in its own process, so
 * every socket always has bytes ready): the bytes all bodies deliver between two turns of the
 * event loop stay near the budget, and a request on a connection opened while they stream is
 * answered while they still stream. Turns are counted by a chain of setImmediate (one per check
 * phase), so nothing here is measured in time.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { BodyPacer } from './body-pacing.js';

const KiB = 1024;
const BUDGET = 128 * KiB;
const UPLOADS = 12;
/** Enough turns with bytes in them to see how the server shares them. */
const TURNS_TO_WATCH = 200;

interface Harness {
  server: Server;
  url: string;
  /** Body bytes delivered to handlers, per turn of the loop. */
  perTurn: Map<number, number>;
  delivered: () => number;
  stop(): Promise<void>;
}

async function startServer(pacer: BodyPacer | undefined): Promise<Harness> {
  let turn = 0;
  let running = true;
  const tick = (): void => {
    turn++;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  const perTurn = new Map<number, number>();
  let total = 0;
  const server = createServer((req, res) => {
    pacer?.pace(req);
    if (req.method === 'GET') {
      res.end('ok');
      return;
    }
    req.on('error', () => undefined);
    req.pipe(
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          perTurn.set(turn, (perTurn.get(turn) ?? 0) + chunk.length);
          total += chunk.length;
          cb();
        },
        final(cb) {
          res.end();
          cb();
        },
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    perTurn,
    delivered: () => total,
    stop: async () => {
      running = false;
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

function upload(url: string, file: string): ChildProcess {
  const c = spawn('curl', ['-sS', '-o', '/dev/null', '-H', 'Expect:', '-T', file, url], { stdio: 'ignore' });
  c.on('error', () => undefined);
  return c;
}

/** Starts the uploads and waits until TURNS_TO_WATCH turns have carried body bytes, or all of them ended. */
async function streamUploads(h: Harness, file: string): Promise<{ maxPerTurn: number; turns: number }> {
  const curls = Array.from({ length: UPLOADS }, () => upload(h.url, file));
  const exited = Promise.all(curls.map((c) => new Promise((r) => c.once('exit', r))));
  let ended = false;
  void exited.then(() => (ended = true));
  while (h.perTurn.size < TURNS_TO_WATCH && !ended) await new Promise((r) => setImmediate(r));
  for (const c of curls) c.kill();
  await exited;
  return { maxPerTurn: Math.max(...h.perTurn.values()), turns: h.perTurn.size };
}

describe('body pacing', () => {
  let dir: string;
  let file: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-pacing-'));
    file = join(dir, 'body.bin');
    await writeFile(file, Buffer.alloc(256 * 1024 * KiB, 7));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('bounds the body bytes all requests deliver between two turns of the loop', async () => {
    const h = await startServer(new BodyPacer(BUDGET));
    try {
      const { maxPerTurn, turns } = await streamUploads(h, file);
      assert.ok(turns >= TURNS_TO_WATCH, `the uploads ended after ${turns} turns with bytes`);
      // A budget in the poll phase and one in the check phase (where the held bodies resume), plus
      // the chunk that spent it (one socket read, 64 KiB).
      assert.ok(maxPerTurn <= 2 * BUDGET + 64 * KiB, `${maxPerTurn} bytes were delivered in one turn (budget ${BUDGET})`);
    } finally {
      await h.stop();
    }
  });

  it('without pacing, one turn delivers every socket’s bytes (what the pacer prevents)', async () => {
    const h = await startServer(undefined);
    try {
      const { maxPerTurn } = await streamUploads(h, file);
      // Measured 1.1 to 25 MiB; the bound above is 320 KiB.
      assert.ok(maxPerTurn > 4 * BUDGET, `only ${maxPerTurn} bytes in the busiest turn: the comparison above shows nothing`);
    } finally {
      await h.stop();
    }
  });

  it('answers a request on a connection opened while the uploads stream, while they still stream', async () => {
    const h = await startServer(new BodyPacer(BUDGET));
    const curls = Array.from({ length: UPLOADS }, () => upload(h.url, file));
    try {
      while (h.delivered() < 4 * BUDGET) await new Promise((r) => setImmediate(r));
      const res = await fetch(h.url);
      assert.equal(await res.text(), 'ok');
      const stillStreaming = curls.filter((c) => c.exitCode === null && c.signalCode === null).length;
      assert.equal(stillStreaming, UPLOADS, 'the uploads ended before the answer: nothing was shown');
      assert.ok(h.delivered() < UPLOADS * 256 * 1024 * KiB);
    } finally {
      for (const c of curls) c.kill();
      await h.stop();
    }
  });
});
