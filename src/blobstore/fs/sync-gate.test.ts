/**
 * Downloads opened on the calling thread or through the thread pool (sync-gate.ts,
 * blob-handle.ts), over the real fs driver with the encrypted store and an open pool as the
 * server composes them. Nothing of Berth's is faked: the gate's input is the measured duration of
 * each real syscall, and a disk is made to look slow by lowering the threshold below any duration
 * (0 µs), fast again by raising it. Checked: both ways give the same bytes (small blobs opened
 * here, a larger one in the pool, ranges); `auto` switches to the pool after slow calls, tries
 * inline again after its period, backs off while the disk stays slow and comes back once it is
 * fast; `inline` and `async` never switch; no file is left open.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Digest } from '../../core/digest.js';
import type { BlobStore } from '../blob-store.js';
import { createEncryptedBlobStore } from '../encrypted/encrypted-blob-store.js';
import { InlineBody } from '../encrypted/open-inline.js';
import { OpenPool } from '../encrypted/open-pool.js';
import type { WrappingKeys } from '../encrypted/wrapping-keys.js';
import { bytes, openFilesUnder, putBlob, readAll } from '../testing.js';
import { ByteThreads } from '../workers/threads.js';
import { createFsBlobStore } from './fs-blob-store.js';
import { SyncGate, type GateSwitch, type SyncGateOptions } from './sync-gate.js';

const key = { id: randomBytes(16), key: randomBytes(32) };
const keys: WrappingKeys = { current: async () => key, byId: async () => key };

async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 2));
}

describe('downloads opened inline or through the pool (blobOpen)', () => {
  const threads = new ByteThreads({ threads: 1 });
  const pool = new OpenPool(threads);
  let root = '';
  const small = bytes(700, 1);
  const large = bytes(300_000, 2);
  let smallDigest: Digest;
  let largeDigest: Digest;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-sync-gate-'));
    const writer = createEncryptedBlobStore(createFsBlobStore({ root, gate: new SyncGate({ mode: 'inline' }) }), keys, { opening: pool });
    smallDigest = await putBlob(writer, small);
    largeDigest = await putBlob(writer, large);
  });
  after(async () => {
    await threads.close();
    await rm(root, { recursive: true, force: true });
  });

  function storeWith(opts: SyncGateOptions): { store: BlobStore; gate: SyncGate } {
    const gate = new SyncGate(opts);
    return { gate, store: createEncryptedBlobStore(createFsBlobStore({ root, gate }), keys, { opening: pool }) };
  }

  /** Every read gives the stored bytes, whichever way its file was opened: four opens. */
  async function readsRight(store: BlobStore): Promise<void> {
    const body = await store.read(smallDigest);
    assert.ok(body instanceof InlineBody, 'a small blob is opened on this thread either way (only its reads move)');
    assert.deepEqual(await readAll(body), small);
    assert.deepEqual(await readAll(await store.read(smallDigest, { start: 100, end: 399 })), small.subarray(100, 400));
    assert.deepEqual(await readAll(await store.read(largeDigest)), large);
    assert.deepEqual(await readAll(await store.read(largeDigest, { start: 70_000, end: 200_000 })), large.subarray(70_000, 200_001));
  }

  it('gives the same bytes inline and through the pool, and each fixed mode keeps its way', async () => {
    const opensBefore = await openFilesUnder(root);
    for (const mode of ['inline', 'async'] as const) {
      // A threshold no call can be under: in auto this would switch at the first call.
      const { store, gate } = storeWith({ mode, slowCallMicros: 0 });
      await readsRight(store);
      await readsRight(store);
      assert.equal(gate.counts[mode], 8, `${mode}: every open went ${mode}`);
      assert.equal(gate.counts[mode === 'inline' ? 'async' : 'inline'], 0);
      assert.deepEqual([gate.counts.toAsync, gate.counts.toInline], [0, 0], `${mode} never switches`);
    }
    // A pool download's file is closed when its worker lets it go, through the pool when async.
    await until(async () => (await openFilesUnder(root)) === opensBefore);
  });

  it('in auto, goes to the pool after slow calls, tries again after its period, and comes back once the disk is fast', async () => {
    const opensBefore = await openFilesUnder(root);
    // Every call measures at least 0 µs: the disk looks slow.
    const switches: Array<[string, GateSwitch]> = [];
    const { store, gate } = storeWith({ slowCallMicros: 0, retryMs: 60_000, onSwitch: (to, detail) => switches.push([to, detail]) });
    assert.equal(gate.current, 'inline');
    await readsRight(store);
    assert.deepEqual([gate.counts.inline, gate.counts.toAsync], [1, 1], "the first download's calls (open, fstat, read: three slow) switched the gate");
    assert.equal(gate.current, 'async');
    assert.deepEqual(switches, [['async', { slowCalls: 3, ofLast: 8, slowCallMicros: 0, retryInMs: 60_000 }]], 'the switch is told, with why');
    const inline = gate.counts.inline;
    await readsRight(store);
    await readsRight(store);
    assert.equal(gate.counts.inline, inline, 'nothing more opened inline while the period lasts');
    assert.equal(gate.counts.async, 11);

    // A short period: the next download after it probes inline, finds the disk still slow and
    // goes back to the pool (for twice the period).
    gate.retryMs = 5;
    const readSmall = async (): Promise<void> => assert.deepEqual(await readAll(await store.read(smallDigest)), small);
    await until(async () => {
      await readSmall();
      return gate.counts.inline > inline;
    });
    assert.deepEqual([gate.counts.inline, gate.counts.toAsync, gate.counts.toInline], [inline + 1, 2, 0], 'one probe, slow: back to the pool');
    assert.deepEqual(switches[1], ['async', { slowCalls: 1, ofLast: 1, slowCallMicros: 0, retryInMs: 10 }], 'told again, with the doubled period');

    // The disk is fast again: the next probe stays inline, and so do the downloads after it.
    gate.slowCallMicros = 1e9;
    await until(async () => {
      await readSmall();
      return gate.current === 'inline';
    });
    assert.equal(gate.counts.toInline, 1);
    assert.deepEqual(switches.slice(2), [['inline', { slowCallMicros: 1e9 }]], 'and told of the way back');
    const after = { ...gate.counts };
    await readsRight(store);
    assert.equal(gate.counts.inline, after.inline + 4, 'opened inline again');
    assert.equal(gate.counts.async, after.async);
    // A pool download's file is closed when its worker lets it go, through the pool when async.
    await until(async () => (await openFilesUnder(root)) === opensBefore);
  });

  it('refuses a missing blob either way, leaving nothing open', async () => {
    const opensBefore = await openFilesUnder(root);
    for (const mode of ['inline', 'async'] as const) {
      const { store } = storeWith({ mode });
      await assert.rejects(store.read(`sha256:${'0'.repeat(64)}` as Digest), { name: 'BlobNotFoundError' });
    }
    assert.equal(await openFilesUnder(root), opensBefore);
  });
});
