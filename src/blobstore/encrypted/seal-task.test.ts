/**
 * The sealing task's memory per append: the chunk of plaintext it holds (one chunk, the format's
 * unit) is allocated when the append starts and freed the moment the append ends or fails, not
 * left for a collection that an idle byte thread may not run for a long time. Run on this thread
 * (the task is a plain function of its messages); `arrayBuffers` counts every ArrayBuffer's
 * backing store exactly as it is allocated and freed. And the pages of a held chunk go back to the
 * kernel when it is freed (this process's resident set), rather than staying in malloc's arena.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { raiseMallocThresholds } from '../../core/malloc-thresholds.js';
import { canTrimMalloc } from '../../core/malloc-trim.js';
import type { FromSealer, ToSealer } from './seal-protocol.js';
import { sealTask } from './seal-task.js';

const KiB = 1024;
const CHUNK = 256 * KiB;
const APPENDS = 24;

const arrayBuffers = (): number => process.memoryUsage().arrayBuffers;

function task() {
  const replies: FromSealer[] = [];
  const handle = sealTask(
    (m) => replies.push(m),
    () => undefined,
  );
  const send = (m: ToSealer) => handle(m);
  return { replies, send };
}

function start(send: ReturnType<typeof task>['send'], id: number): void {
  send({ kind: 'seal', op: 'start', id, dataKey: randomBytes(32), chunkSize: CHUNK, index: 0, tail: new Uint8Array(0) });
}

describe('the sealing task holds one chunk per running append, and no more once it ends', () => {
  it('frees each append held chunk when it ends', () => {
    const { replies, send } = task();
    const slot = new Uint8Array(new SharedArrayBuffer(8 * KiB));
    slot.set(randomBytes(8 * KiB));
    const before = arrayBuffers();
    for (let id = 1; id <= APPENDS; id++) start(send, id);
    // The measure sees the held chunks: one each.
    assert.ok(arrayBuffers() - before >= APPENDS * CHUNK, `held chunks counted: ${arrayBuffers() - before}`);
    for (let id = 1; id <= APPENDS; id++) send({ kind: 'seal', op: 'data', id, slot: 0, len: 5000, buf: slot });
    for (let id = 1; id <= APPENDS; id++) send({ kind: 'seal', op: 'end', id });
    const done = replies.filter((r) => r.op === 'done');
    assert.equal(done.length, APPENDS);
    for (const d of done) assert.equal(d.op === 'done' && d.tail.length, 5000);
    // What is left: the tails' copies (5000 bytes each), not 24 chunks of 256 KiB.
    const left = arrayBuffers() - before;
    assert.ok(left < 4 * CHUNK, `${(left / KiB).toFixed(0)} KiB still allocated after every append ended`);
  });

  it('frees the held chunk of an append whose write fails', () => {
    const { replies, send } = task();
    const slot = new Uint8Array(new SharedArrayBuffer(CHUNK + 1));
    const before = arrayBuffers();
    for (let id = 1; id <= APPENDS; id++) {
      // An fd that is not open: the first whole chunk's write fails.
      send({ kind: 'seal', op: 'start', id, dataKey: randomBytes(32), chunkSize: CHUNK, index: 0, tail: new Uint8Array(0), fd: 2 ** 30, position: 0 });
      send({ kind: 'seal', op: 'data', id, slot: 0, len: CHUNK + 1, buf: slot });
    }
    const failed = replies.filter((r) => r.op === 'fail');
    assert.equal(failed.length, APPENDS);
    assert.match(failed[0]!.op === 'fail' ? (failed[0]!.code ?? '') : '', /EBADF/);
    const left = arrayBuffers() - before;
    assert.ok(left < 4 * CHUNK, `${(left / KiB).toFixed(0)} KiB still allocated after every append failed`);
  });

  it('hands the pages of the ended appends held chunks back to the kernel', {
    skip: canTrimMalloc() ? undefined : 'the malloc-trim addon is not built here (no compiler, or not glibc)',
  }, () => {
    // As on the byte threads: 256 KiB blocks then come from malloc's arena, which keeps them
    // resident once freed (the sealed chunks kept in the replies sit between them).
    raiseMallocThresholds();
    const resident = (): number => Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096;
    const { replies, send } = task();
    const slot = new Uint8Array(new SharedArrayBuffer(CHUNK + 5000));
    slot.set(randomBytes(CHUNK + 5000));
    // Every held chunk filled (all its pages touched) and sealed, then 5000 bytes more.
    for (let id = 1; id <= APPENDS; id++) {
      start(send, id);
      send({ kind: 'seal', op: 'data', id, slot: 0, len: CHUNK + 5000, buf: slot });
    }
    const before = resident();
    for (let id = 1; id <= APPENDS; id++) send({ kind: 'seal', op: 'end', id });
    const gone = before - resident();
    const done = replies.filter((r) => r.op === 'done');
    assert.equal(done.length, APPENDS);
    for (const d of done) assert.equal(d.op === 'done' && d.tail.length, 5000);
    assert.ok(gone > APPENDS * CHUNK * 0.75, `the resident set fell by ${(gone / KiB).toFixed(0)} KiB as ${APPENDS} held chunks were freed`);
  });
});
