/**
 * Contract: the blob store at its edges (see contract-suite.ts): bad upload ids and digests refused,
 * a failing source or an abort signal leaving a consistent upload, writers spent after they finish,
 * commits retried or of discarded bytes, reused upload ids, and nothing left behind afterwards.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { bytes, putBlob, readAll, sourceOf } from './testing.js';
import { digestOf, type Digest } from '../core/digest.js';
import { BlobNotFoundError } from './blob-store.js';
import type { BlobStoreSuiteOptions, ContractTest } from './contract-suite.js';

/** Registers the edge cases through `test`, the suite's own (it applies the driver's skip list). */
export function edgeContract(test: ContractTest, opts: BlobStoreSuiteOptions): void {
  test('invalid upload ids are rejected', async (store) => {
    const valid = randomUUID();
    for (const id of ['../x', 'ABC', '', valid.toUpperCase(), `${valid}/../x`, `../${valid}`, `${valid}\0`]) {
      await assert.rejects(store.writer(id, { append: false }), Error, `writer ${JSON.stringify(id)}`);
      await assert.rejects(store.writer(id, { append: true }), Error);
      await assert.rejects(store.statUpload(id), Error);
      await assert.rejects(store.readUpload(id), Error);
      await assert.rejects(store.deleteUpload(id), Error);
    }
  });

  test('invalid digests are rejected', async (store) => {
    const data = bytes(10, 17);
    const id = randomUUID();
    const w = await store.writer(id, { append: false });
    await w.append(sourceOf(data));
    const hex = digestOf(data).slice('sha256:'.length);
    const bad = [
      '',
      'sha256:',
      `sha256:${hex.slice(1)}`,
      `sha256:${hex.toUpperCase()}`,
      `md5:${hex.slice(32)}`,
      'sha256:../../../../etc/passwd',
      `sha256:${hex}/..`,
      `sha512:${hex}`,
      hex,
    ];
    for (const d of bad as Digest[]) {
      await assert.rejects(store.stat(d), Error, `stat ${JSON.stringify(d)}`);
      await assert.rejects(store.read(d), (e: unknown) => e instanceof Error && !(e instanceof BlobNotFoundError));
      await assert.rejects(store.delete(d), Error);
      await assert.rejects(w.commit(d), Error);
    }
    // A refused commit must not consume the staged bytes.
    assert.equal(await store.statUpload(id), data.length);
  });

  test('a source that errors mid-way rejects append and leaves a consistent size', async (store) => {
    const id = randomUUID();
    const w = await store.writer(id, { append: false });
    const head = bytes(1000, 18);
    await w.append(sourceOf(head));
    const chunks = [bytes(64 * 1024, 19), bytes(64 * 1024, 20), bytes(64 * 1024, 21)];
    const failing = Readable.from(
      (async function* () {
        for (const c of chunks) yield c;
        throw new Error('client went away');
      })(),
    );
    await assert.rejects(w.append(failing), /client went away/);
    const staged = await readAll(await store.readUpload(id));
    assert.equal(w.size, staged.length);
    assert.equal(await store.statUpload(id), staged.length);
    // Whatever stayed must be a prefix of what was sent, so the upload can resume from there.
    assert.deepEqual(staged, Buffer.concat([head, ...chunks]).subarray(0, staged.length));
    assert.ok(staged.length >= head.length);
    await w.close();
    const w2 = await store.writer(id, { append: true });
    assert.equal(w2.size, staged.length);
  });

  test('an abort signal stops an append', async (store) => {
    const id = randomUUID();
    const w = await store.writer(id, { append: false });
    await assert.rejects(w.append(sourceOf(bytes(10, 22)), AbortSignal.abort()), { name: 'AbortError' });
    const ac = new AbortController();
    let sent = 0;
    const endless = Readable.from(
      (async function* () {
        for (;;) {
          const c = bytes(16 * 1024, sent);
          sent += c.length;
          if (sent >= 256 * 1024) ac.abort();
          yield c;
          await new Promise((r) => setImmediate(r));
        }
      })(),
    );
    await assert.rejects(w.append(endless, ac.signal), { name: 'AbortError' });
    assert.ok(endless.destroyed, 'the source is destroyed');
    assert.equal(await store.statUpload(id), w.size);
    assert.ok(w.size <= sent);
  });

  test('an abort signal destroys a read stream', async (store) => {
    const digest = await putBlob(store, bytes(2 * 1024 * 1024, 23));
    const ac = new AbortController();
    const stream = await store.read(digest, undefined, ac.signal);
    ac.abort();
    await assert.rejects(readAll(stream), { name: 'AbortError' });
    assert.ok(stream.destroyed);
  });

  test('a writer is spent after commit, cancel or close', async (store) => {
    const data = bytes(100, 26);
    const committed = await store.writer(randomUUID(), { append: false });
    await committed.append(sourceOf(data));
    await committed.commit(digestOf(data));
    const cancelled = await store.writer(randomUUID(), { append: false });
    await cancelled.cancel();
    const closed = await store.writer(randomUUID(), { append: false });
    await closed.close();
    for (const w of [committed, cancelled, closed]) await assert.rejects(w.append(sourceOf(bytes(1, 27))));
    assert.equal(await store.statUpload(closed.uploadId), 0, 'close keeps the (empty) staged upload');
  });

  test('append: true on a fresh id starts an empty upload, and an empty append changes nothing', async (store) => {
    const id = randomUUID();
    const w = await store.writer(id, { append: true });
    assert.equal(w.size, 0);
    assert.equal(await store.statUpload(id), 0);
    assert.equal((await readAll(await store.readUpload(id))).length, 0);
    const data = bytes(5000, 28);
    await w.append(sourceOf(data));
    assert.equal(await w.append(sourceOf(Buffer.alloc(0))), 0);
    assert.equal(w.size, data.length);
    assert.deepEqual(await readAll(await store.readUpload(id)), data);
  });

  test('a retried commit succeeds once the staged bytes are gone', async (store) => {
    const data = bytes(20_000, 29);
    const id = randomUUID();
    const first = await store.writer(id, { append: false });
    await first.append(sourceOf(data));
    const retry = await store.writer(id, { append: true });
    await first.commit(digestOf(data));
    assert.equal(await store.statUpload(id), undefined);
    await retry.commit(digestOf(data));
    assert.deepEqual(await readAll(await store.read(digestOf(data))), data);
    assert.equal(await store.statUpload(id), undefined);
  });

  test('a commit whose staged bytes were discarded fails and makes nothing visible', async (store) => {
    const data = bytes(20_000, 30);
    const id = randomUUID();
    const w = await store.writer(id, { append: false });
    await w.append(sourceOf(data));
    await store.deleteUpload(id);
    await assert.rejects(w.commit(digestOf(data)));
    assert.equal(await store.stat(digestOf(data)), undefined);
  });

  test('a committed blob does not change when its upload id is reused', async (store) => {
    const data = bytes(30_000, 31);
    const id = randomUUID();
    const w = await store.writer(id, { append: false });
    await w.append(sourceOf(data));
    await w.commit(digestOf(data));
    const again = await store.writer(id, { append: false });
    await again.append(sourceOf(bytes(30_000, 32)));
    await again.cancel();
    assert.deepEqual(await readAll(await store.read(digestOf(data))), data);
  });

  test('commit, cancel and delete leave no stray objects behind', async (store, dir, raw) => {
    const held = async () => {
      const uploads: string[] = [];
      if (store.listUploads) for await (const u of store.listUploads()) uploads.push(u.id);
      return { uploads, all: opts.contents && (await opts.contents(raw, dir)).sort() };
    };
    const empty = { uploads: [], all: opts.contents && [] };
    assert.deepEqual(await held(), empty);
    // Chunked over two writers, so a driver that stages in pieces (S3: parts, tails, state) has some.
    const [a, b] = [bytes(300_000, 40), bytes(70_000, 41)];
    const digest = digestOf(Buffer.concat([a, b]));
    const id = randomUUID();
    const w1 = await store.writer(id, { append: false });
    await w1.append(sourceOf(a));
    await w1.close();
    const w2 = await store.writer(id, { append: true });
    await w2.append(sourceOf(b));
    await w2.commit(digest);
    assert.equal(await store.statUpload(id), undefined);
    const committed = await held();
    assert.deepEqual(committed.uploads, [], 'no staged upload survives its commit');
    if (committed.all) assert.equal(committed.all.length, 1, `one object for one blob, not: ${committed.all.join(', ')}`);
    // A cancelled upload, one discarded by deleteUpload, and a commit of a digest already
    // stored (which discards its staged copy) add nothing.
    const cancelled = await store.writer(randomUUID(), { append: false });
    await cancelled.append(sourceOf(bytes(200_000, 42)));
    await cancelled.cancel();
    const discardedId = randomUUID();
    const discarded = await store.writer(discardedId, { append: false });
    await discarded.append(sourceOf(bytes(1000, 43)));
    await discarded.close();
    await store.deleteUpload(discardedId);
    const twin = await store.writer(randomUUID(), { append: false });
    await twin.append(sourceOf(Buffer.concat([a, b])));
    await twin.commit(digest);
    assert.deepEqual(await held(), committed);
    await store.delete(digest);
    assert.equal(await store.stat(digest), undefined);
    assert.deepEqual(await held(), empty, 'a deleted blob leaves nothing');
  });
}
