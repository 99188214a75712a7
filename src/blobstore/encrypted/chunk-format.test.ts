/**
 * The sealed-blob format on its own: round trips at the sizes where chunking goes wrong, every
 * range across chunk boundaries, size arithmetic both ways, and each way of tampering with the
 * stored bytes failing as a BlobIntegrityError.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { bytes, readAll, sourceOf } from '../testing.js';
import type { ByteRange } from '../blob-store.js';
import type { WrappingKey } from './wrapping-keys.js';
import {
  BlobIntegrityError,
  HEADER_SIZE,
  TAG_SIZE,
  ciphertextSize,
  cipherRangeFor,
  createSealTransform,
  parseHeader,
  plaintextSize,
  sealHeader,
  unwrapDataKey,
} from './chunk-format.js';
import { OpenTransform } from './chunk-opener.js';

const C = 1 << 10;
const SIZES = [0, 1, C - 1, C, C + 1, 3 * C + 5];

function newKey(): WrappingKey {
  return { id: randomBytes(16), key: randomBytes(32) };
}

async function collect(source: Readable, t: Transform): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline(source, t, async (chunks: AsyncIterable<Buffer>) => {
    for await (const c of chunks) parts.push(c);
  });
  return Buffer.concat(parts);
}

async function seal(plain: Buffer, key: WrappingKey, piece = 333): Promise<Buffer> {
  const dataKey = randomBytes(32);
  const header = sealHeader({ wrappingKey: key, dataKey, chunkSize: C });
  return collect(sourceOf(plain, piece), createSealTransform({ dataKey, header, chunkSize: C }));
}

/** Opens stored bytes as the store does: header, key, size from the length, then the run's bytes only. */
async function open(stored: Buffer, key: WrappingKey, range?: ByteRange, piece = 500): Promise<Buffer> {
  const header = parseHeader(stored.subarray(0, HEADER_SIZE), 'test');
  const dataKey = unwrapDataKey(header, key, 'test');
  const size = plaintextSize(stored.length, header.chunkSize);
  const run = cipherRangeFor(range, size, header.chunkSize);
  if (!run) return Buffer.alloc(0);
  const body = stored.subarray(run.cipherStart, run.cipherEnd + 1);
  const t = new OpenTransform({ dataKey, chunkSize: header.chunkSize, run, label: 'test' });
  return collect(sourceOf(body, piece), t);
}

/** A copy of `b` with bit `mask` of byte `at` flipped. */
function flipped(b: Buffer, at: number, mask = 0x01): Buffer {
  const out = Buffer.from(b);
  out[at] = out[at]! ^ mask;
  return out;
}

function isIntegrity(e: unknown): boolean {
  return e instanceof BlobIntegrityError;
}

describe('sealed blob format', () => {
  it('opens the same whatever pieces the stored bytes arrive in (tags split across reads included)', async () => {
    const key = newKey();
    const plain = bytes(3 * C + 5, 9);
    const stored = await seal(plain, key);
    for (const piece of [1, 7, TAG_SIZE - 1, TAG_SIZE, TAG_SIZE + 1, C, C + TAG_SIZE, C + TAG_SIZE + 1, stored.length]) {
      assert.deepEqual(await open(stored, key, undefined, piece), plain, `pieces of ${piece}`);
      assert.deepEqual(await open(stored, key, { start: C - 3, end: 2 * C + 2 }, piece), plain.subarray(C - 3, 2 * C + 3), `range in pieces of ${piece}`);
      // The first chunk's tag, its last byte arriving in a read of its own.
      await assert.rejects(open(flipped(stored, HEADER_SIZE + C + TAG_SIZE - 1), key, undefined, piece), isIntegrity, `tampered tag in pieces of ${piece}`);
    }
  });

  it('round-trips every interesting size, whole and in every interesting range', async () => {
    const key = newKey();
    for (const size of SIZES) {
      const plain = bytes(size, size + 1);
      const stored = await seal(plain, key);
      assert.equal(stored.length, ciphertextSize(size, C), `stored size of ${size}`);
      assert.deepEqual(await open(stored, key), plain, `whole ${size}`);
      const points = [...new Set([0, 1, C - 1, C, C + 1, 2 * C - 1, 2 * C, 3 * C, size - 2, size - 1, size, size + 7])].filter((p) => p >= 0);
      for (const start of points) {
        for (const end of points) {
          if (end < start) continue;
          const got = await open(stored, key, { start, end });
          assert.deepEqual(got, plain.subarray(start, end + 1), `size ${size} range ${start}-${end}`);
        }
      }
    }
  });

  it('never holds more than one chunk back, whatever the piece size', async () => {
    const key = newKey();
    const plain = bytes(5 * C + 17, 9);
    for (const piece of [1, 7, C - 1, C, C + 1, 10 * C]) {
      assert.deepEqual(await open(await seal(plain, key, piece), key), plain, `pieces of ${piece}`);
    }
    // Feeding the sealer a chunk and a byte must already release the first chunk.
    const dataKey = randomBytes(32);
    const t = createSealTransform({ dataKey, header: sealHeader({ wrappingKey: key, dataKey, chunkSize: C }), chunkSize: C });
    const out: Buffer[] = [];
    t.on('data', (c: Buffer) => out.push(c));
    await new Promise<void>((resolve) => t.write(bytes(C + 1, 1), () => resolve()));
    await new Promise((r) => setImmediate(r));
    assert.equal(Buffer.concat(out).length, HEADER_SIZE + C + TAG_SIZE);
    t.destroy();
  });

  it('computes sizes both ways and refuses sizes nothing seals to', () => {
    assert.equal(ciphertextSize(0, C), HEADER_SIZE + TAG_SIZE);
    assert.equal(ciphertextSize(C, C), HEADER_SIZE + C + TAG_SIZE);
    assert.equal(ciphertextSize(C + 1, C), HEADER_SIZE + C + 1 + 2 * TAG_SIZE);
    for (let p = 0; p <= 4 * C + 3; p++) assert.equal(plaintextSize(ciphertextSize(p, C), C), p);
    const valid = new Set(Array.from({ length: 4 * C }, (_, p) => ciphertextSize(p, C)));
    for (let s = 0; s < ciphertextSize(4 * C, C); s++) {
      if (!valid.has(s)) assert.throws(() => plaintextSize(s, C), BlobIntegrityError, `size ${s}`);
    }
  });

  it('maps plaintext ranges to the chunks covering them', () => {
    const size = 3 * C + 5;
    const run = cipherRangeFor({ start: C - 1, end: C }, size, C)!;
    assert.deepEqual([run.firstChunk, run.lastChunk, run.finalChunk], [0, 1, 3]);
    assert.equal(run.cipherStart, HEADER_SIZE);
    assert.equal(run.cipherEnd, HEADER_SIZE + 2 * (C + TAG_SIZE) - 1);
    const tail = cipherRangeFor({ start: size - 1, end: size + 100 }, size, C)!;
    assert.deepEqual([tail.firstChunk, tail.lastChunk, tail.start, tail.end], [3, 3, size - 1, size]);
    assert.equal(tail.cipherEnd, ciphertextSize(size, C) - 1);
    assert.equal(cipherRangeFor({ start: size, end: size }, size, C), undefined);
    assert.equal(cipherRangeFor({ start: 0, end: 0 }, 0, C), undefined);
    const empty = cipherRangeFor(undefined, 0, C)!;
    assert.deepEqual([empty.cipherStart, empty.cipherEnd], [HEADER_SIZE, HEADER_SIZE + TAG_SIZE - 1]);
  });

  it('refuses a header with any byte changed', async () => {
    const key = newKey();
    const stored = await seal(bytes(2 * C, 3), key);
    for (let i = 0; i < HEADER_SIZE; i++) {
      await assert.rejects(open(flipped(stored, i), key), isIntegrity, `header byte ${i}`);
    }
  });

  it('refuses a changed body byte, swapped chunks, and cut or extended bodies', async () => {
    const key = newKey();
    const size = 3 * C + 5;
    const stored = await seal(bytes(size, 4), key);
    const sealed = C + TAG_SIZE;
    const chunkAt = (i: number): Buffer => stored.subarray(HEADER_SIZE + i * sealed, HEADER_SIZE + (i + 1) * sealed);

    for (const at of [HEADER_SIZE, HEADER_SIZE + C, HEADER_SIZE + sealed + 17, stored.length - 1]) {
      await assert.rejects(open(flipped(stored, at, 0x80), key), isIntegrity, `body byte ${at}`);
    }
    const swapped = Buffer.concat([stored.subarray(0, HEADER_SIZE), chunkAt(1), chunkAt(0), stored.subarray(HEADER_SIZE + 2 * sealed)]);
    await assert.rejects(open(swapped, key), isIntegrity, 'swapped chunks');
    await assert.rejects(open(swapped, key, { start: 0, end: 10 }), isIntegrity, 'swapped chunks, ranged');
    await assert.rejects(open(stored.subarray(0, stored.length - 3), key), isIntegrity, 'last chunk cut short');
    await assert.rejects(open(stored.subarray(0, HEADER_SIZE + 3 * sealed), key), isIntegrity, 'last chunk dropped');
    await assert.rejects(open(stored.subarray(0, HEADER_SIZE), key), isIntegrity, 'every chunk dropped');
    const extended = Buffer.concat([stored, chunkAt(1)]);
    await assert.rejects(open(extended, key), isIntegrity, 'a chunk appended');
    await assert.rejects(open(Buffer.concat([stored, Buffer.alloc(TAG_SIZE)]), key), isIntegrity, 'an empty chunk appended');
    // A whole empty blob is one empty final chunk; without it the header alone is refused.
    const empty = await seal(Buffer.alloc(0), key);
    assert.equal((await open(empty, key)).length, 0);
    await assert.rejects(open(empty.subarray(0, HEADER_SIZE), key), isIntegrity, 'empty blob cut to its header');
  });

  it('refuses a wrong wrapping key, under the same id or another', async () => {
    const key = newKey();
    const stored = await seal(bytes(100, 5), key);
    await assert.rejects(open(stored, { id: key.id, key: randomBytes(32) }), isIntegrity);
    await assert.rejects(open(stored, newKey()), isIntegrity);
  });

  it('names the blob and chunk in integrity errors, never key bytes', async () => {
    const key = newKey();
    const stored = flipped(await seal(bytes(3 * C, 6), key), HEADER_SIZE + (C + TAG_SIZE) + 5);
    const header = parseHeader(stored.subarray(0, HEADER_SIZE), 'sha256:abc');
    const dataKey = unwrapDataKey(header, key, 'sha256:abc');
    const run = cipherRangeFor(undefined, 3 * C, C)!;
    const t = new OpenTransform({ dataKey, chunkSize: C, run, label: 'sha256:abc' });
    const err = await readAll(Readable.from([stored.subarray(HEADER_SIZE)]).pipe(t)).then(
      () => assert.fail('expected an integrity error'),
      (e: unknown) => e as Error,
    );
    assert.ok(err instanceof BlobIntegrityError);
    assert.match(err.message, /sha256:abc.*chunk 1/);
    for (const secret of [key.key, dataKey]) {
      assert.ok(!err.message.includes(secret.toString('hex')) && !err.message.includes(secret.toString('base64')));
    }
    await t.verified; // chunk 0 was sound, so the reader had started before chunk 1 failed
  });
});
