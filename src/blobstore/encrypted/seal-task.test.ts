/**
 * The sealing task's memory per append: the plaintext it holds (at most one chunk, the format's
 * unit) is kept in granules of the thread's (held-chunk.ts), taken as bytes come and given back the
 * moment a chunk is sealed or its append ends or fails, so a crowd of slow appends holds about
 * what it has sent and not sealed, not a chunk each. Run on this thread (the task is a plain
 * function of its messages); `arrayBuffers` counts every ArrayBuffer's backing store exactly as it
 * is allocated and freed. Once the thread runs no append, the granules are freed with their pages
 * handed back (this process's resident set), rather than staying in malloc's arena. And whatever
 * the pieces' sizes, the chunks sealed are the stored format's bytes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { raiseMallocThresholds } from '../../core/malloc-thresholds.js';
import { canTrimMalloc } from '../../core/malloc-trim.js';
import { BLOCK_BYTES, GRANULE } from './held-chunk.js';
import { nativeSeal, nodeSealed } from './native-seal.js';
import type { FromSealer, ToSealer } from './seal-protocol.js';
import { sealTask } from './seal-task.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const CHUNK = 256 * KiB;
const APPENDS = 24;
/** The quiet spell before a thread that runs no append hands its buffers back, for these tests. */
const QUIET = 20;

const arrayBuffers = (): number => process.memoryUsage().arrayBuffers;

function task(quietMs?: number) {
  const replies: FromSealer[] = [];
  const handle = sealTask(
    (m) => replies.push(m),
    () => undefined,
    quietMs,
  );
  const send = (m: ToSealer) => handle(m);
  return { replies, send };
}

function start(send: ReturnType<typeof task>['send'], id: number): void {
  send({ kind: 'seal', op: 'start', id, dataKey: randomBytes(32), chunkSize: CHUNK, index: 0, tail: new Uint8Array(0) });
}

/** Runs `fn` with files opened for it in a directory of their own, removed after. */
function withFiles(count: number, fn: (fds: number[], paths: string[]) => void): void {
  const tmp = mkdtempSync(join(tmpdir(), 'seal-task-'));
  const paths = Array.from({ length: count }, (_, i) => join(tmp, `f${i}`));
  const fds = paths.map((p) => openSync(p, 'w+'));
  try {
    fn(fds, paths);
  } finally {
    for (const fd of fds) closeSync(fd);
    rmSync(tmp, { recursive: true, force: true });
  }
}

function withFile(fn: (fd: number, path: string) => void): void {
  withFiles(1, (fds, paths) => fn(fds[0]!, paths[0]!));
}

describe('the sealing task holds what is not sealed yet, and no more once an append ends', () => {
  it('holds granules as bytes come, not a chunk per append, and frees them when the appends end', () => {
    const { replies, send } = task();
    const slot = new Uint8Array(new SharedArrayBuffer(8 * KiB));
    slot.set(randomBytes(8 * KiB));
    const before = arrayBuffers();
    for (let id = 1; id <= APPENDS; id++) start(send, id);
    // Nothing sent yet: nothing held.
    assert.ok(arrayBuffers() - before < GRANULE, `held before any byte: ${arrayBuffers() - before}`);
    for (let id = 1; id <= APPENDS; id++) send({ kind: 'seal', op: 'data', id, slot: 0, len: 5000, buf: slot });
    // 5000 bytes each: one granule each, not a chunk (granules are cut from blocks: one may be partly used).
    const held = arrayBuffers() - before;
    assert.ok(held >= APPENDS * 5000 && held < APPENDS * GRANULE + BLOCK_BYTES, `held for ${APPENDS} × 5000 bytes: ${(held / KiB).toFixed(0)} KiB`);
    for (let id = 1; id <= APPENDS; id++) send({ kind: 'seal', op: 'end', id });
    const done = replies.filter((r) => r.op === 'done');
    assert.equal(done.length, APPENDS);
    for (const d of done) assert.equal(d.op === 'done' && d.tail.length, 5000);
    // What is left: the tails' copies (5000 bytes each), not 24 granules.
    const left = arrayBuffers() - before;
    assert.ok(left < 2 * GRANULE + APPENDS * 5000, `${(left / KiB).toFixed(0)} KiB still allocated after every append ended`);
  });

  it('holds each unsealed tail within 8 KiB of its bytes', () => {
    const { replies, send } = task();
    const slot = new Uint8Array(new SharedArrayBuffer(CHUNK));
    slot.set(randomBytes(CHUNK));
    const before = arrayBuffers();
    let tails = 0;
    for (let id = 1; id <= APPENDS; id++) {
      start(send, id);
      // Tails spread over a chunk, as a crowd's are at any instant.
      const len = 1 + ((id * 40_009) % (CHUNK - 1));
      send({ kind: 'seal', op: 'data', id, slot: 0, len, buf: slot });
      tails += len;
    }
    // Beyond the tails' bytes: at most 8 KiB each (half that on average), plus the blocks the
    // granules are cut from (a page each to align them, and one block partly used).
    const over = arrayBuffers() - before - tails;
    const bound = APPENDS * 8 * KiB + Math.ceil(tails / BLOCK_BYTES + APPENDS / 8) * 4 * KiB + BLOCK_BYTES;
    assert.ok(over < bound, `${(over / KiB).toFixed(0)} KiB held beyond ${APPENDS} tails' ${(tails / KiB).toFixed(0)} KiB (bound ${(bound / KiB).toFixed(0)})`);
    for (let id = 1; id <= APPENDS; id++) send({ kind: 'seal', op: 'end', id });
    assert.equal(replies.filter((r) => r.op === 'done').length, APPENDS);
  });

  it('a chunk sealed gives its granules to the appends still filling theirs', () => {
    const { replies, send } = task();
    const slot = new Uint8Array(new SharedArrayBuffer(CHUNK));
    slot.set(randomBytes(CHUNK));
    const before = arrayBuffers();
    for (let id = 1; id <= APPENDS; id++) start(send, id);
    // Each append in turn fills a chunk and has it sealed (a byte follows), as a crowd's do.
    let most = 0;
    for (let id = 1; id <= APPENDS; id++) {
      send({ kind: 'seal', op: 'data', id, slot: 0, len: CHUNK, buf: slot });
      send({ kind: 'seal', op: 'data', id, slot: 0, len: 1, buf: slot });
      // The sealed chunks come back in the acks (no fd) and are kept there: not counted.
      const sealed = replies.reduce((n, r) => n + (r.op === 'ack' ? (r.sealed ?? []).reduce((m, b) => m + b.byteLength, 0) : 0), 0);
      most = Math.max(most, arrayBuffers() - before - sealed);
    }
    // A chunk each would be 6 MiB; one chunk's granules go round, plus a granule per append.
    assert.ok(most < 2 * CHUNK + APPENDS * GRANULE, `${(most / KiB).toFixed(0)} KiB held at most by ${APPENDS} appends`);
    for (let id = 1; id <= APPENDS; id++) send({ kind: 'seal', op: 'end', id });
    assert.equal(replies.filter((r) => r.op === 'done' && r.chunks === 1 && r.tail.length === 1).length, APPENDS);
  });

  it('seals a chunk at once when its message says a byte follows, and holds it when it does not', () => {
    const { replies, send } = task();
    const slot = new Uint8Array(new SharedArrayBuffer(CHUNK));
    slot.set(randomBytes(CHUNK));
    const acks = () => replies.filter((r) => r.op === 'ack').map((r) => (r.op === 'ack' ? (r.sealed?.length ?? 0) : 0));
    start(send, 1);
    start(send, 2);
    // A whole chunk, a byte after it coming: sealed with this message, nothing held.
    const before = arrayBuffers();
    send({ kind: 'seal', op: 'data', id: 1, slot: 0, len: CHUNK, buf: slot, more: true });
    assert.deepEqual(acks(), [2]);
    const sealed = replies[0]!.op === 'ack' ? replies[0]!.sealed!.reduce((n, b) => n + b.byteLength, 0) : 0;
    assert.ok(arrayBuffers() - before - sealed < GRANULE, `held after a chunk marked more: ${arrayBuffers() - before - sealed}`);
    // Without the mark it may be the last chunk: held until a byte after it comes.
    send({ kind: 'seal', op: 'data', id: 2, slot: 0, len: CHUNK, buf: slot });
    assert.deepEqual(acks(), [2, 0]);
    // Half a chunk held, then the rest with a byte to follow: the held chunk is sealed too.
    send({ kind: 'seal', op: 'data', id: 1, slot: 0, len: CHUNK / 2, buf: slot });
    send({ kind: 'seal', op: 'data', id: 1, slot: 0, len: CHUNK / 2, buf: slot, more: true });
    assert.deepEqual(acks(), [2, 0, 0, 2]);
    for (const id of [1, 2]) {
      send({ kind: 'seal', op: 'data', id, slot: 0, len: 1, buf: slot });
      send({ kind: 'seal', op: 'end', id });
    }
    const done = replies.filter((r) => r.op === 'done').map((r) => (r.op === 'done' ? [r.id, r.chunks, r.tail.length] : []));
    assert.deepEqual(done, [
      [1, 2, 1],
      [2, 1, 1],
    ]);
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

  it('hands the pages of free granules back as appends end: all but 2 MiB while others run, all once none does', {
    skip: canTrimMalloc() ? undefined : 'the malloc-trim addon is not built here (no compiler, or not glibc)',
  }, () => {
    // As on the byte threads: blocks then come from malloc's arena, which keeps them resident once
    // freed (the sealed chunks kept in the replies sit between them).
    raiseMallocThresholds();
    const resident = (): number => Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096;
    const { replies, send } = task();
    const slot = new Uint8Array(new SharedArrayBuffer(CHUNK));
    slot.set(randomBytes(CHUNK));
    // Every append holds a chunk less a byte at once (all its granules touched), then 5000 bytes
    // more seal it: its granules go to the thread's free list. One more append keeps running.
    const LAST = APPENDS + 1;
    for (let id = 1; id <= LAST; id++) {
      start(send, id);
      send({ kind: 'seal', op: 'data', id, slot: 0, len: CHUNK - 1, buf: slot });
    }
    for (let id = 1; id <= LAST; id++) send({ kind: 'seal', op: 'data', id, slot: 0, len: 5001, buf: slot });
    const before = resident();
    for (let id = 1; id <= APPENDS; id++) send({ kind: 'seal', op: 'end', id });
    const running = before - resident();
    // Half, not all: this is the process's resident set, which the JS heap and other threads move
    // by a MiB or so on a busy machine (CI fell 3,160 KiB of 4,608 once, at load). Without the
    // trim it falls by next to nothing, and unaligned granules (s20) fell 2,072 KiB: both fail.
    assert.ok(running > (LAST * CHUNK - 2 * MiB) * 0.5, `the resident set fell by ${(running / KiB).toFixed(0)} KiB as ${APPENDS} of ${LAST} appends ended`);
    send({ kind: 'seal', op: 'end', id: LAST });
    const gone = before - resident();
    assert.ok(gone > LAST * CHUNK * 0.5, `the resident set fell by ${(gone / KiB).toFixed(0)} KiB once all ${LAST} had ended`);
    const done = replies.filter((r) => r.op === 'done');
    assert.equal(done.length, LAST);
    for (const d of done) assert.equal(d.op === 'done' && d.tail.length, 5000);
  });
});

describe('the sealing task, sealing as bytes come (native sealer, fd), holds no plaintext', {
  skip: nativeSeal() ? undefined : 'the sealer addon is not built',
}, () => {
  function streamed(send: ReturnType<typeof task>['send'], id: number, fd: number, dataKey = randomBytes(32), tail = new Uint8Array(0)): void {
    send({ kind: 'seal', op: 'start', id, dataKey, chunkSize: CHUNK, index: 0, tail, fd, position: 0, streamed: true });
  }

  it('holds nothing per append while tails spread over a chunk stream: only the thread scratch, whatever their number', () => {
    withFiles(APPENDS, (fds) => {
      const { replies, send } = task();
      const slot = new Uint8Array(new SharedArrayBuffer(CHUNK));
      slot.set(randomBytes(CHUNK));
      // The scratch is the thread's, made by the first piece: not counted as any append's.
      streamed(send, 0, fds[0]!);
      send({ kind: 'seal', op: 'data', id: 0, slot: 0, len: CHUNK, buf: slot });
      const before = arrayBuffers();
      let tails = 0;
      for (let id = 1; id < APPENDS; id++) {
        streamed(send, id, fds[id]!);
        const len = 1 + ((id * 40_009) % (CHUNK - 1));
        send({ kind: 'seal', op: 'data', id, slot: 0, len, buf: slot });
        tails += len;
      }
      // The held path holds the tails (≈2.9 MiB here) and granules; this holds a cipher context each, outside the JS heap.
      const over = arrayBuffers() - before;
      assert.ok(
        over < 16 * KiB,
        `${(over / KiB).toFixed(0)} KiB held by ${APPENDS - 1} streaming appends (their unsealed bytes: ${(tails / KiB).toFixed(0)} KiB)`,
      );
      assert.deepEqual(
        replies.filter((r) => r.op !== 'ack'),
        [],
      );
      for (let id = 0; id < APPENDS; id++) send({ kind: 'seal', op: 'end', id });
      const done = replies.filter((r) => r.op === 'done');
      assert.equal(done.length, APPENDS);
      for (const d of done) if (d.op === 'done') assert.equal(d.partial, d.tail.length);
    });
  });

  it('keeps its scratch between uploads one after another, and hands its pages back once none has run for a quiet spell', {
    skip: canTrimMalloc() ? undefined : 'the malloc-trim addon is not built here (no compiler, or not glibc)',
  }, async () => {
    raiseMallocThresholds();
    const resident = (): number => Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096;
    const { replies, send } = task(QUIET);
    const BULK = 4 * CHUNK;
    let ended = 0;
    withFile((fd) => {
      const slot = new Uint8Array(new SharedArrayBuffer(BULK));
      slot.set(randomBytes(BULK));
      // One message of four chunks and a byte: the scratch grows to four sealed chunks, all touched.
      streamed(send, 1, fd);
      send({ kind: 'seal', op: 'data', id: 1, slot: 0, len: BULK, buf: slot });
      send({ kind: 'seal', op: 'data', id: 1, slot: 0, len: 1, buf: slot });
      const before = resident();
      send({ kind: 'seal', op: 'end', id: 1 });
      ended = resident();
      // A push's next layer would fault them in again: they stay until the thread has been quiet.
      // (The timer cannot have run: this test has not given the event loop a turn yet.)
      assert.ok(before - ended < BULK / 2, `the resident set fell by ${((before - ended) / KiB).toFixed(0)} KiB as the last append ended`);
    });
    assert.equal(replies.filter((r) => r.op === 'done').length, 1);
    let gone = 0;
    for (let i = 0; i < 500 && gone < BULK / 2; i++) {
      await new Promise((r) => setTimeout(r, QUIET));
      gone = ended - resident();
    }
    assert.ok(gone >= BULK / 2, `the resident set fell by ${(gone / KiB).toFixed(0)} KiB after the quiet spell (the scratch: ${(BULK / KiB).toFixed(0)} KiB)`);
  });

  it('pieces across every GCM block and chunk edge, marked or not: the chunks, the tail after them, read back exact', () => {
    withFile((fd, path) => {
      const { replies, send } = task();
      const key = randomBytes(32);
      const sizes = [1, 15, 16, 17, CHUNK - 49, CHUNK, 1, CHUNK - 1, CHUNK + 1, 16, 2 * CHUNK + 17, 0, 31, CHUNK];
      const total = sizes.reduce((a, b) => a + b, 0) + 5;
      const plain = randomBytes(total);
      const slot = new Uint8Array(new SharedArrayBuffer(4 * CHUNK));
      // A tail from the record (not stored yet), then the pieces; `more` as the pool marks them.
      streamed(send, 1, fd, key, plain.subarray(0, 5));
      let at = 5;
      for (const [i, n] of sizes.entries()) {
        if (n === 0) continue;
        slot.set(plain.subarray(at, at + n));
        at += n;
        send({ kind: 'seal', op: 'data', id: 1, slot: 0, len: n, buf: slot, ...(i % 2 === 0 && at < total && { more: true }) });
      }
      send({ kind: 'seal', op: 'end', id: 1 });
      const done = replies.find((r) => r.op === 'done');
      assert.ok(done?.op === 'done', JSON.stringify(replies.find((r) => r.op === 'fail')));
      const chunks = Math.ceil(total / CHUNK) - 1;
      assert.equal(done.chunks, chunks);
      assert.ok(Buffer.from(done.tail).equals(plain.subarray(chunks * CHUNK)), 'the tail is the plaintext after the chunks');
      const whole = Array.from({ length: chunks }, (_, i) => nodeSealed(key, i, false, plain.subarray(i * CHUNK, (i + 1) * CHUNK)));
      const last = nodeSealed(key, chunks, true, plain.subarray(chunks * CHUNK));
      // Final or not, the last chunk's ciphertext is the same: the commit appends only its tag.
      const expected = Buffer.concat([...whole, last.subarray(0, done.tail.length)]);
      assert.ok(readFileSync(path).equals(expected), "the file holds the chunks and the last one's ciphertext");
    });
  });

  it('continues from a tail whose ciphertext is stored: enciphered again for the tag, not written again', () => {
    withFile((fd, path) => {
      const { replies, send } = task();
      const key = randomBytes(32);
      const plain = randomBytes(CHUNK + 100);
      const slot = new Uint8Array(new SharedArrayBuffer(CHUNK));
      send({ kind: 'seal', op: 'start', id: 1, dataKey: key, chunkSize: CHUNK, index: 0, tail: new Uint8Array(0), fd, position: 0, streamed: true });
      slot.set(plain.subarray(0, 700));
      send({ kind: 'seal', op: 'data', id: 1, slot: 0, len: 700, buf: slot });
      send({ kind: 'seal', op: 'end', id: 1 });
      const first = replies.find((r) => r.op === 'done');
      assert.ok(first?.op === 'done' && first.partial === 700);
      // The tail's bytes in the file are marked: had they been written again, the mark would be gone.
      const marked = readFileSync(path);
      marked[0] = marked[0]! ^ 0xff;
      writeFileSync(path, marked);
      send({ kind: 'seal', op: 'start', id: 2, dataKey: key, chunkSize: CHUNK, index: 0, tail: first.tail, fd, position: 0, streamed: true, tailStored: true });
      slot.set(plain.subarray(700));
      send({ kind: 'seal', op: 'data', id: 2, slot: 0, len: plain.length - 700, buf: slot });
      send({ kind: 'seal', op: 'end', id: 2 });
      const second = replies.filter((r) => r.op === 'done')[1];
      assert.ok(second?.op === 'done' && second.chunks === 1 && second.partial === 100);
      const expected = Buffer.concat([nodeSealed(key, 0, false, plain.subarray(0, CHUNK)), nodeSealed(key, 1, false, plain.subarray(CHUNK)).subarray(0, 100)]);
      const file = readFileSync(path);
      assert.equal(file[0], expected[0]! ^ 0xff, 'the stored tail was not written again');
      file[0] = file[0]! ^ 0xff;
      assert.ok(file.equals(expected), 'the chunk, its tag made over the tail enciphered again, then the new tail');
    });
  });
});

describe('the sealing task seals the stored format whatever the pieces', () => {
  // Pieces across granule and chunk ends: held, sealed straight from the slot, or both.
  const sizes = [1, GRANULE - 1, 2, 3 * CHUNK + 7, CHUNK, 1, CHUNK - 1, 2 * CHUNK, 5, GRANULE, CHUNK + 1];
  const total = sizes.reduce((a, b) => a + b, 0);

  function run(fd: number | undefined, streamed = false): { sealed: Buffer; tail: Uint8Array; partial: number; key: Buffer; plain: Buffer } {
    const { replies, send } = task();
    const key = randomBytes(32);
    const plain = randomBytes(total);
    const slot = new Uint8Array(new SharedArrayBuffer(4 * CHUNK));
    send({
      kind: 'seal',
      op: 'start',
      id: 1,
      dataKey: key,
      chunkSize: CHUNK,
      index: 0,
      tail: plain.subarray(0, 3),
      ...(fd !== undefined && { fd, position: 0 }),
      ...(streamed && { streamed }),
    });
    let at = 3;
    for (const n of sizes) {
      const piece = plain.subarray(at, Math.min(at + n, total));
      slot.set(piece);
      send({ kind: 'seal', op: 'data', id: 1, slot: 0, len: piece.length, buf: slot });
      at += piece.length;
    }
    send({ kind: 'seal', op: 'end', id: 1 });
    const sealed = Buffer.concat(replies.flatMap((r) => (r.op === 'ack' ? (r.sealed ?? []) : [])));
    const done = replies.find((r) => r.op === 'done');
    assert.ok(done?.op === 'done', JSON.stringify(replies.find((r) => r.op === 'fail')));
    assert.equal(done.chunks, Math.ceil(total / CHUNK) - 1);
    return { sealed, tail: done.tail, partial: done.partial ?? 0, key, plain };
  }

  /** `partial`: the tail's ciphertext follows the chunks (the streamed path). */
  function check(sealed: Buffer, tail: Uint8Array, key: Buffer, plain: Buffer, partial = 0): void {
    const chunks = Math.ceil(total / CHUNK) - 1;
    const whole = Array.from({ length: chunks }, (_, i) => nodeSealed(key, i, false, plain.subarray(i * CHUNK, (i + 1) * CHUNK)));
    const after = partial > 0 ? [nodeSealed(key, chunks, false, plain.subarray(chunks * CHUNK)).subarray(0, partial)] : [];
    assert.equal(partial, partial > 0 ? tail.length : 0);
    assert.ok(sealed.equals(Buffer.concat([...whole, ...after])), 'the sealed chunks are the format bytes');
    assert.ok(Buffer.from(tail).equals(plain.subarray(chunks * CHUNK)), 'the tail is the plaintext after them');
  }

  it("with Node's cipher, chunks handed back", () => {
    const { sealed, tail, key, plain } = run(undefined);
    check(sealed, tail, key, plain);
  });

  it(`written to the fd, by ${nativeSeal() ? 'the native sealer' : "Node's cipher (the sealer addon is not built)"}`, () => {
    withFile((fd, path) => {
      const { tail, partial, key, plain } = run(fd);
      check(readFileSync(path), tail, key, plain, partial);
    });
  });

  it('sealed as bytes come, by the native sealer: the chunks, then the tail enciphered as the next chunk begins', {
    skip: nativeSeal() ? undefined : 'the sealer addon is not built',
  }, () => {
    withFile((fd, path) => {
      const { tail, partial, key, plain } = run(fd, true);
      assert.ok(partial > 0, 'the tail is left in the file');
      check(readFileSync(path), tail, key, plain, partial);
    });
  });
});
