/** withChecks beyond the contract suite: its metrics hook and fired abort signals. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { it } from 'node:test';
import { digestOf } from '../core/digest.js';
import { withChecks, type BlobOperation } from './checked-blob-store.js';
import { createMemoryBlobStore } from './memory/memory-blob-store.js';
import { bytes, sourceOf } from './testing.js';

it('reports every operation to the hook once it settles, with bytes appended and failures', async () => {
  const seen: Array<[string, BlobOperation, boolean, number | undefined]> = [];
  const store = withChecks(createMemoryBlobStore(), { observe: (name, op) => (o) => void seen.push([name, op, o.ok, o.bytes]) });
  const data = bytes(1000, 1);
  const w = await store.writer(randomUUID(), { append: false });
  await w.append(sourceOf(data));
  await w.commit(digestOf(data));
  await store.stat(digestOf(data));
  await assert.rejects(store.stat('sha256:nope' as never), /invalid digest/);
  assert.deepEqual(seen, [
    ['memory', 'writer', true, undefined],
    ['memory', 'append', true, 1000],
    ['memory', 'commit', true, undefined],
    ['memory', 'stat', true, undefined],
    ['memory', 'stat', false, undefined],
  ]);
});

it('refuses an operation whose signal has already fired, before the driver sees it', async () => {
  const raw = createMemoryBlobStore();
  const store = withChecks(raw);
  const id = randomUUID();
  const w = await store.writer(id, { append: false });
  const source = Readable.from([Buffer.from('never read')]);
  await assert.rejects(w.append(source, AbortSignal.abort()), { name: 'AbortError' });
  assert.ok(source.destroyed, 'the source is disposed of');
  assert.deepEqual(raw.contents().uploads, [id]);
  assert.equal(await store.statUpload(id), 0, 'nothing was appended');
  await assert.rejects(store.read(digestOf('x'), undefined, AbortSignal.abort()), { name: 'AbortError' });
  await assert.rejects(store.read(digestOf('x'), { start: 5, end: 4 }), RangeError);
});
