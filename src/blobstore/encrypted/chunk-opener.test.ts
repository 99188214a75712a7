/**
 * ChunkOpener writing straight into its owner's memory (DirectOut, as the opening task writes
 * into a ring slot): exact bytes for ranges across chunk edges, fed as the task reads (a chunk
 * at a time) and in odd pieces; and a chunk that fails its tag is never verified, so an owner
 * lets out only the chunks before it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { bytes } from '../testing.js';
import type { ByteRange } from '../blob-store.js';
import { BlobIntegrityError, HEADER_SIZE, TAG_SIZE, cipherRangeFor, createSealTransform, sealHeader } from './chunk-format.js';
import { ChunkOpener } from './chunk-opener.js';

const C = 64 * 1024;
/** Where pieces of 1000 bytes cut a chunk and a tag: ranges start and end around it. */
const P = 33 * 1000;
const SIZE = 3 * C + 5;

async function sealed(plain: Buffer, dataKey: Buffer): Promise<Buffer> {
  const header = sealHeader({ wrappingKey: { id: randomBytes(16), key: randomBytes(32) }, dataKey, chunkSize: C });
  const parts: Buffer[] = [];
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      parts.push(c);
      cb();
    },
  });
  await pipeline(Readable.from([plain]), createSealTransform({ dataKey, header, chunkSize: C }), sink);
  return Buffer.concat(parts);
}

/** Opens `range` of `stored` as the opening task does: unverified bytes past `at`, `at` moved only by verified(). */
function openDirect(stored: Buffer, dataKey: Buffer, range: ByteRange | undefined, piece: number | 'chunk') {
  const run = cipherRangeFor(range, SIZE, C)!;
  const out = Buffer.alloc(run.end - run.start);
  const seen = { at: 0, unverified: 0, verified: 0 };
  const opener = new ChunkOpener(
    { dataKey, chunkSize: C, run, label: 'test' },
    {
      unverified: (p) => {
        p.copy(out, seen.at + seen.unverified);
        seen.unverified += p.length;
      },
      verified: () => {
        seen.at += seen.unverified;
        seen.unverified = 0;
        seen.verified++;
      },
    },
  );
  const body = stored.subarray(run.cipherStart, run.cipherEnd + 1);
  let error: unknown;
  try {
    for (let at = 0; at < body.length; ) {
      const n = piece === 'chunk' ? opener.storedLength(opener.next) : piece;
      opener.consume(body.subarray(at, at + n));
      at += n;
    }
    opener.end();
  } catch (e) {
    error = e;
  }
  return { run, verifiedBytes: out.subarray(0, seen.at), seen, error };
}

describe('ChunkOpener into its owner (DirectOut)', () => {
  const dataKey = randomBytes(32);
  const plain = bytes(SIZE, 7);
  const storedP = sealed(plain, dataKey);
  const ranges: Array<ByteRange | undefined> = [
    undefined,
    { start: 0, end: 0 },
    { start: P - 1, end: P },
    { start: C - 3, end: C + P + 2 },
    { start: 5, end: 2 * C + 7 },
    { start: 3 * C, end: 3 * C + 4 },
  ];

  for (const piece of ['chunk', 50_000, 1000] as const) {
    it(`opens exact bytes for ranges across chunk edges (fed ${piece === 'chunk' ? 'a chunk' : `${piece} bytes`} at a time)`, async () => {
      const stored = await storedP;
      for (const range of ranges) {
        const r = openDirect(stored, dataKey, range, piece);
        assert.equal(r.error, undefined);
        const want = range ? plain.subarray(range.start, range.end + 1) : plain;
        assert.ok(r.verifiedBytes.equals(want), `range ${JSON.stringify(range)}`);
        assert.equal(r.seen.verified, r.run.lastChunk - r.run.firstChunk + 1);
      }
    });
  }

  it('never verifies a chunk that fails its tag: only the chunks before it are let out', async () => {
    const stored = Buffer.from(await storedP);
    // A ciphertext byte in the middle of chunk 1.
    stored[HEADER_SIZE + (C + TAG_SIZE) + P + 9]! ^= 0x20;
    const r = openDirect(stored, dataKey, undefined, 'chunk');
    assert.ok(r.error instanceof BlobIntegrityError, String(r.error));
    assert.match((r.error as Error).message, /chunk 1 failed authentication/);
    assert.equal(r.seen.verified, 1);
    assert.ok(r.verifiedBytes.equals(plain.subarray(0, C)));
    // What chunk 1 wrote before its tag was checked stays past `at`, which only its owner sees.
    assert.equal(r.seen.unverified, C);
  });
});
