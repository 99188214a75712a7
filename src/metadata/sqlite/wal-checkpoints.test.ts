/**
 * The embedded database's checkpoints run on a byte thread's own connection, not in the event
 * loop's commits; when that thread cannot run one, the checkpoint runs on the event loop instead.
 * Real SQLite files and real byte threads. A checkpoint is seen where it leaves its mark: pages
 * copied from the WAL into the database file, which grows.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { endianness, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { checkpointsOn } from '../../app/byte-thread-checkpoints.js';
import { ByteThreads } from '../../blobstore/workers/threads.js';
import { registryKey } from '../../core/registry-key.js';
import { createSqliteMetadataStore, type SqliteMetadataStore } from './sqlite-store.js';

const REGISTRY = registryKey('111122223333', 'us-east-1');

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; !ok(); i++) {
    if (i > 20_000) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Writes `n` documents of about 2 KiB each (about a page apiece, and their index entries), 50 at a time. */
async function write(store: SqliteMetadataStore, n: number, tag: string): Promise<void> {
  const document = JSON.stringify({ pad: 'x'.repeat(2000) });
  for (let i = 0; i < n; i += 50) {
    const names = Array.from({ length: Math.min(50, n - i) }, (_, j) => `${tag}-${i + j}`);
    await Promise.all(names.map((name) => store.documents.create({ registryKey: REGISTRY, kind: 'secret', name, document, now: new Date() })));
  }
}

describe('WAL checkpoints off the event loop', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-ckpt-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('are run by a byte thread once enough writes are durable', async () => {
    const path = join(dir, 'a.db');
    const store = createSqliteMetadataStore({ path, checkpoints: { everyWrites: 300, restartFrames: 8192 } });
    const threads = new ByteThreads({ threads: 2 });
    try {
      store.offloadCheckpoints!(checkpointsOn(threads));
      const before = statSync(path).size;
      // In two parts: a checkpoint starts only on a durable write while none runs, and the byte
      // thread's first one (loading better-sqlite3, opening the file) can outlast 1,200 quick writes.
      await write(store, 600, 'a');
      await until('an off-loop checkpoint', () => store.checkpoints.figures.offLoop >= 1);
      await write(store, 900, 'a2');
      await until('a second off-loop checkpoint', () => store.checkpoints.figures.offLoop >= 2);
      assert.equal(store.checkpoints.figures.inline, 0);
      assert.ok(statSync(path).size > before + 1_000_000, `the database file grew from ${before} to ${statSync(path).size}`);
      const probe = new Database(path);
      assert.equal(probe.prepare("SELECT count(*) FROM named_documents WHERE name LIKE 'a%'").pluck().get(), 1500);
      probe.close();
    } finally {
      await threads.close();
      await store.close();
    }
    // Everything is there after a reopen, with no WAL left to replay (the last close checkpointed).
    const again = createSqliteMetadataStore({ path });
    try {
      assert.equal((await again.documents.get(REGISTRY, 'secret', 'a2-899'))?.name, 'a2-899');
    } finally {
      await again.close();
    }
  });

  it('let the WAL start over while writes keep coming', async () => {
    const path = join(dir, 'steady.db');
    const store = createSqliteMetadataStore({ path, checkpoints: { everyWrites: 100, restartFrames: 600 } });
    const threads = new ByteThreads({ threads: 2 });
    try {
      store.offloadCheckpoints!(checkpointsOn(threads));
      // Frames in the WAL since it last started over: the wal-index header's mxFrame (read, no lock).
      const frames = () => {
        const h = readFileSync(`${path}-shm`).subarray(16, 20);
        return endianness() === 'LE' ? h.readUInt32LE(0) : h.readUInt32BE(0);
      };
      let most = 0;
      let batches = 0;
      for (; frames() >= most; batches++) {
        most = frames();
        if (batches >= 2000) assert.fail(`the WAL never started over (${most} frames)`);
        await write(store, 50, `w${batches}`);
      }
      assert.ok(store.checkpoints.figures.offLoop >= 1);
    } finally {
      await threads.close();
      await store.close();
    }
  });

  it('copy what the runner left on the event loop once the WAL is long, so that it starts over', async () => {
    const path = join(dir, 'long.db');
    const store = createSqliteMetadataStore({ path, checkpoints: { everyWrites: 100, restartFrames: 600 } });
    try {
      // A runner that reports a long WAL and copies nothing: whatever reaches the file was copied here.
      store.offloadCheckpoints!(async () => ({ log: 1_000_000 }));
      const before = statSync(path).size;
      await write(store, 150, 'l');
      await until('a copy on the event loop', () => store.checkpoints.figures.restart >= 1);
      assert.ok(statSync(path).size > before + 200_000, `the database file grew from ${before} to ${statSync(path).size}`);
      assert.equal(store.checkpoints.figures.inline, 0);
    } finally {
      await store.close();
    }
  });

  it("are no longer run by the event loop's commits once offloaded", async () => {
    const path = join(dir, 'stalled.db');
    const store = createSqliteMetadataStore({ path });
    let asked = 0;
    try {
      // A runner that never finishes: only the event loop's own connection could checkpoint now.
      store.offloadCheckpoints!(() => {
        asked++;
        return new Promise<{ log: number }>(() => {});
      });
      const before = statSync(path).size;
      await write(store, 1500, 's');
      assert.equal(asked, 1, 'one checkpoint asked for, and none more while it runs');
      assert.equal(statSync(path).size, before, 'no page reached the database file');
    } finally {
      await store.close();
    }
  });

  it('start the next at once when a slow one ends with writes owed', async () => {
    const path = join(dir, 'owed.db');
    const store = createSqliteMetadataStore({ path, checkpoints: { everyWrites: 100, restartFrames: 8192 } });
    const ends: Array<() => void> = [];
    try {
      // A runner that finishes only when told: the writes below all become durable while the first runs.
      store.offloadCheckpoints!(() => new Promise<{ log: number }>((resolve) => ends.push(() => resolve({ log: 0 }))));
      await write(store, 350, 'o');
      assert.equal(ends.length, 1, 'one checkpoint asked for, and none more while it runs');
      ends[0]!();
      // No write follows: the owed checkpoint must start from the end of the first.
      await until('a second checkpoint', () => ends.length === 2);
      ends[1]!();
      await until('the second one counted', () => store.checkpoints.figures.offLoop === 2);
      assert.equal(ends.length, 2, 'nothing owed after the second: no third');
    } finally {
      for (const end of ends) end();
      await store.close();
    }
  });

  it('fall back to the event loop when the byte thread cannot run them', async () => {
    const path = join(dir, 'b.db');
    const store = createSqliteMetadataStore({ path });
    const threads = new ByteThreads({ threads: 1 });
    try {
      store.offloadCheckpoints!(checkpointsOn(threads));
      await threads.close();
      const before = statSync(path).size;
      await write(store, 1500, 'b');
      await until('a checkpoint on the event loop', () => store.checkpoints.figures.inline >= 1);
      assert.equal(store.checkpoints.figures.offLoop, 0);
      assert.ok(statSync(path).size > before + 1_000_000, `the database file grew from ${before} to ${statSync(path).size}`);
    } finally {
      await store.close();
    }
  });

  it('leave an in-memory database alone', async () => {
    const store = createSqliteMetadataStore({ path: ':memory:' });
    let asked = 0;
    try {
      store.offloadCheckpoints!(async () => {
        asked++;
        return { log: 0 };
      });
      await write(store, 400, 'm');
      assert.equal(asked, 0);
    } finally {
      await store.close();
    }
  });
});
