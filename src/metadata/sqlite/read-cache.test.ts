/**
 * The SQLite store's read cache (read-cache.ts) on a real database file: repeated GET lookups are
 * served without a query; any write through the store, and any commit by another connection,
 * drops it; it stays within its entry and byte bounds however many repositories and tags are
 * read. Freshness across nodes is the contract suite's (contract-suite-fresh-reads.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { at, blob, dg, push, REGISTRY, repo } from '../contract-fixtures.js';
import { createSqliteMetadataStore } from './sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-read-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshPath = () => join(dir, `metadata-${n++}.db`);

describe('the SQLite read cache', () => {
  it('answers a repeated lookup without a query, and a missing repository too', async () => {
    const store = createSqliteMetadataStore({ path: freshPath() });
    try {
      const id = await repo(store, 'team/web');
      const l = await blob(store, id, 'layer');
      const pushed = await push(store, { tag: 'v1', blobs: [l] });
      const before = store.readCache.stats();
      for (let i = 0; i < 10; i++) {
        const r = await store.repositories.find(REGISTRY, 'team/web');
        assert.equal((await store.manifests.findByTag(r!.id, 'v1'))?.digest, pushed.digest);
        assert.equal((await store.manifests.find(r!.id, pushed.digest))?.digest, pushed.digest);
        assert.equal(await store.repositories.find(REGISTRY, 'team/missing'), undefined);
        // The manifest GET's one call (manifests.lookup), found and not.
        const both = await store.manifests.lookup(REGISTRY, 'team/web', { tag: 'v1' });
        assert.deepEqual([both?.repository.id, both?.manifest?.digest], [id, pushed.digest]);
        assert.equal(await store.manifests.lookup(REGISTRY, 'team/missing', { digest: pushed.digest }), undefined);
      }
      const s = store.readCache.stats();
      assert.equal(s.watch, 'wal-index');
      assert.equal(s.misses - before.misses, 6, 'one load per distinct lookup');
      assert.equal(s.hits - before.hits, 54);
    } finally {
      await store.close();
    }
  });

  it('is dropped by a write through any store, and by a commit on another connection', async () => {
    const path = freshPath();
    const store = createSqliteMetadataStore({ path });
    const other = new Database(path);
    try {
      const id = await repo(store, 'team/web');
      const l = await blob(store, id, 'layer');
      const pushed = await push(store, { tag: 'v1', blobs: [l] });
      const read = async () => (await store.manifests.findByTag(id, 'v1'))?.digest;
      assert.equal(await read(), pushed.digest);
      // A write that has nothing to do with tags still drops it: invalidation is not a list of writers.
      await store.blobs.record(id, { digest: dg('unrelated'), size: 1 }, at());
      const drops = store.readCache.stats().drops;
      assert.equal(await read(), pushed.digest);
      assert.equal(store.readCache.stats().drops, drops + 1);
      // Another connection (another process, in production) moves the tag behind the store's back.
      other.prepare('DELETE FROM tags WHERE repository_id = ? AND name = ?').run(id, 'v1');
      assert.equal(await read(), undefined);
      assert.equal(store.readCache.stats().drops, drops + 2);
    } finally {
      other.close();
      await store.close();
    }
  });

  it('evicts by second chance: a read entry outlives an unread older one, and a new entry its own eviction', async () => {
    // Three entries at most; each repositories.find of a name is one entry.
    const store = createSqliteMetadataStore({ path: freshPath(), readCache: { maxEntries: 3, maxBytes: 1024 * 1024 } });
    try {
      for (let i = 0; i < 5; i++) await repo(store, `team/r${i}`);
      const find = async (i: number): Promise<'hit' | 'miss'> => {
        const { hits } = store.readCache.stats();
        assert.ok(await store.repositories.find(REGISTRY, `team/r${i}`));
        return store.readCache.stats().hits > hits ? 'hit' : 'miss';
      };
      // Loaded after the last write, so no drop interferes: r0, r1, r2.
      assert.deepEqual([await find(0), await find(1), await find(2)], ['miss', 'miss', 'miss']);
      assert.equal(await find(0), 'hit');
      // r3 needs room: r0 was read since it came in and gets a second chance; r1 was not, and goes.
      assert.equal(await find(3), 'miss');
      assert.deepEqual([await find(0), await find(3), await find(2)], ['hit', 'hit', 'hit']);
      // Every entry was read: one pass unmarks them all, then the oldest goes, never the newcomer.
      assert.equal(await find(4), 'miss');
      assert.equal(await find(4), 'hit');
      assert.equal(store.readCache.stats().entries, 3);
      assert.equal(await find(1), 'miss');
    } finally {
      await store.close();
    }
  });

  it('stays within its entry and byte bounds, least recently used out first', async () => {
    const maxEntries = 50;
    const maxBytes = 64 * 1024;
    const store = createSqliteMetadataStore({ path: freshPath(), readCache: { maxEntries, maxBytes } });
    try {
      const ids: number[] = [];
      for (let i = 0; i < 40; i++) {
        const id = await repo(store, `team/r${i}`);
        const l = await blob(store, id, `layer-${i}`);
        // ~2 KiB payloads: the byte bound, not the entry bound, decides for manifests.
        for (let t = 0; t < 5; t++) await push(store, { repository: `team/r${i}`, tag: `t${t}`, blobs: [l], salt: `${i}-${t}-${'x'.repeat(2000)}` });
        ids.push(id);
      }
      let peakEntries = 0;
      let peakBytes = 0;
      for (let round = 0; round < 2; round++) {
        for (const [i, id] of ids.entries()) {
          assert.equal((await store.repositories.find(REGISTRY, `team/r${i}`))?.id, id);
          for (let t = 0; t < 5; t++) assert.ok(await store.manifests.findByTag(id, `t${t}`));
          const s = store.readCache.stats();
          peakEntries = Math.max(peakEntries, s.entries);
          peakBytes = Math.max(peakBytes, s.bytes);
        }
      }
      assert.ok(peakEntries <= maxEntries, `entries ${peakEntries}`);
      assert.ok(peakBytes <= maxBytes, `bytes ${peakBytes}`);
      assert.ok(peakBytes > maxBytes / 2, 'the bound was reached, so eviction was exercised');
      // The most recently read stays; the least recently read went first.
      const last = ids.length - 1;
      const { hits } = store.readCache.stats();
      await store.manifests.findByTag(ids[last]!, 't4');
      assert.equal(store.readCache.stats().hits, hits + 1);
      await store.manifests.findByTag(ids[0]!, 't0');
      assert.equal(store.readCache.stats().hits, hits + 1);
    } finally {
      await store.close();
    }
  });
});
