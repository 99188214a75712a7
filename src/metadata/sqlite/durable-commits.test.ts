/**
 * Group commit: a store call that wrote resolves only after a WAL flush that started after its
 * write; calls that wrote together share a flush; reads never wait for one; a failed flush fails
 * the calls it was to make durable. Real SQLite; the flush is a function the test controls, so
 * the order of events is observable without timing.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { DurableCommits, durableStore, walFlush } from './durable-commits.js';

interface Gate {
  flushes: number;
  open(): void;
  fail(e: Error): void;
}

/** A flush that waits until the test opens (or fails) it, counting how many were started. */
function gatedFlush(): { flush: () => Promise<void>; gate: Gate } {
  let waiting: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  const gate: Gate = {
    flushes: 0,
    open() {
      const w = waiting;
      waiting = [];
      for (const x of w) x.resolve();
    },
    fail(e) {
      const w = waiting;
      waiting = [];
      for (const x of w) x.reject(e);
    },
  };
  const flush = () =>
    new Promise<void>((resolve, reject) => {
      gate.flushes++;
      waiting.push({ resolve, reject });
    });
  return { flush, gate };
}

function makeStore(commits: DurableCommits) {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)');
  commits.watch(db);
  const put = db.prepare('INSERT OR REPLACE INTO t (k, v) VALUES (?, ?)');
  const get = db.prepare('SELECT v FROM t WHERE k = ?');
  const bump = db.prepare('UPDATE t SET v = v + 1 WHERE k = ? RETURNING v');
  const store = {
    async put(k: string, v: number) {
      put.run(k, v);
    },
    async get(k: string) {
      return (get.get(k) as { v: number } | undefined)?.v;
    },
    async bump(k: string) {
      return (bump.get(k) as { v: number } | undefined)?.v;
    },
    async failAfterWrite(k: string) {
      put.run(k, 0);
      throw new Error('refused after writing');
    },
  };
  return { db, store: durableStore(store, commits) };
}

/** Whether a promise has settled, after every already-queued callback has run. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise((r) => setImmediate(r));
  return done;
}

describe('group commit (durable-commits)', () => {
  it('resolves a write only once a flush that started after it has finished', async () => {
    const { flush, gate } = gatedFlush();
    const { store } = makeStore(new DurableCommits(flush));
    const write = store.put('a', 1);
    assert.equal(await settled(write), false, 'the write resolved before any flush');
    assert.equal(gate.flushes, 1);
    gate.open();
    await write;
    assert.equal(await store.get('a'), 1);
  });

  it('lets reads through without a flush, even while one is pending', async () => {
    const { flush, gate } = gatedFlush();
    const { store } = makeStore(new DurableCommits(flush));
    const write = store.put('a', 1);
    assert.equal(await store.get('a'), 1, 'a read waited for the flush');
    assert.equal(gate.flushes, 1);
    gate.open();
    await write;
  });

  it('counts INSERT ... RETURNING through get() as a write', async () => {
    const { flush, gate } = gatedFlush();
    const { store } = makeStore(new DurableCommits(flush));
    const first = store.put('n', 1);
    await settled(first);
    gate.open();
    await first;
    const bumped = store.bump('n');
    assert.equal(await settled(bumped), false);
    gate.open();
    assert.equal(await bumped, 2);
  });

  it('makes writes that arrive together share flushes, and a write during a flush wait for the next', async () => {
    const { flush, gate } = gatedFlush();
    const { store } = makeStore(new DurableCommits(flush));
    const first = store.put('k0', 0);
    await settled(first);
    // A flush is running now; these 50 writes came after it started, so it cannot cover them.
    const later = Array.from({ length: 50 }, (_, i) => store.put(`k${i + 1}`, i));
    await settled(Promise.all(later));
    assert.equal(gate.flushes, 1);
    gate.open();
    await first;
    assert.equal(await settled(Promise.all(later)), false, 'writes made during a flush were answered by it');
    assert.equal(gate.flushes, 2, 'the 50 writes share one more flush');
    gate.open();
    await Promise.all(later);
    assert.equal(gate.flushes, 2);
  });

  it('fails the calls a failed flush was to make durable, and flushes again for the next write', async () => {
    const { flush, gate } = gatedFlush();
    const { store } = makeStore(new DurableCommits(flush));
    const write = store.put('a', 1);
    await settled(write);
    gate.fail(new Error('EIO'));
    await assert.rejects(write, /EIO/);
    const again = store.put('b', 2);
    await settled(again);
    assert.equal(gate.flushes, 2);
    gate.open();
    await again;
  });

  it('keeps a call that wrote and then failed waiting for the flush, and rejects with its own error', async () => {
    const { flush, gate } = gatedFlush();
    const { store } = makeStore(new DurableCommits(flush));
    const call = store.failAfterWrite('x');
    assert.equal(await settled(call), false);
    gate.open();
    await assert.rejects(call, /refused after writing/);
  });
});

describe('walFlush', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-wal-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('flushes the WAL of a real database, and resolves when there is no WAL', async () => {
    await walFlush(join(dir, 'none.db'))();
    const path = join(dir, 'real.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    const commits = new DurableCommits(walFlush(path));
    commits.watch(db);
    db.prepare('CREATE TABLE t (v INTEGER)').run();
    db.prepare('INSERT INTO t VALUES (1)').run();
    assert.ok(commits.count >= 2);
    await commits.durable();
    db.close();
  });
});
