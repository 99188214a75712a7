/**
 * ChunkOpener writing straight into its owner's memory (DirectOut, as the opening task writes
 * into a ring slot), with Node's crypto and with the native opener (native-gcm.ts) deciphering
 * in place: exact bytes for ranges across chunk edges, fed as the task reads (a chunk at a time)
 * and in odd pieces; a chunk that fails its tag is never verified, so an owner lets out only the
 * chunks before it; a run cut short fails after its last whole chunk.
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
import { nativeGcm, nativeGcmUnavailable, type NativeGcm } from './native-gcm.js';

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

/** The native opener, which scripts/test.sh builds; CI insists on it, elsewhere its cases say why they skip. */
const native = nativeGcm();
if (!native && (process.env.CI || process.env.BERTH_REQUIRE_NATIVE_CIPHER)) throw new Error(`no native opener: ${nativeGcmUnavailable()}`);

/**
 * Opens `range` of `stored` as the opening task does: unverified bytes past `at`, `at` moved only
 * by verified(); with `gcm`, deciphered in place into shared memory (as a ring slot is), else
 * copied in by `unverified`. `stored` may be cut short by `cut` bytes.
 */
function openDirect(stored: Buffer, dataKey: Buffer, range: ByteRange | undefined, piece: number | 'chunk', gcm: NativeGcm | undefined, cut = 0) {
  const run = cipherRangeFor(range, SIZE, C)!;
  // A margin on each side: nothing may be written outside the run's own bytes.
  const MARGIN = 100;
  const mem = new Uint8Array(new SharedArrayBuffer(run.end - run.start + 2 * MARGIN)).fill(0xee);
  const out = Buffer.from(mem.buffer, MARGIN, run.end - run.start);
  const seen = { at: 0, unverified: 0, verified: 0, copied: 0 };
  const opener = new ChunkOpener(
    { dataKey, chunkSize: C, run, label: 'test', native: gcm },
    {
      unverified: (p) => {
        p.copy(out, seen.at + seen.unverified);
        seen.unverified += p.length;
        seen.copied += p.length;
      },
      verified: () => {
        seen.at += seen.unverified;
        seen.unverified = 0;
        seen.verified++;
      },
      inPlace: {
        bytes: mem,
        claim: (n) => {
          const at = MARGIN + seen.at + seen.unverified;
          seen.unverified += n;
          return at;
        },
      },
    },
  );
  assert.equal(opener.native, gcm !== undefined);
  const body = stored.subarray(run.cipherStart, run.cipherEnd + 1 - cut);
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
  const margins = Buffer.concat([mem.subarray(0, MARGIN), mem.subarray(MARGIN + out.length)]);
  assert.ok(
    margins.every((b) => b === 0xee),
    'nothing written outside the run',
  );
  // In place, nothing goes through `unverified`'s copy.
  if (gcm) assert.equal(seen.copied, 0);
  return { run, verifiedBytes: Buffer.from(out.subarray(0, seen.at)), seen, error };
}

for (const cipher of ['node', 'native'] as const)
  describe(`ChunkOpener into its owner (DirectOut), ${cipher === 'node' ? "Node's crypto" : 'the native opener in place'}`, () => {
    const gcm = cipher === 'native' ? native : undefined;
    const skip = cipher === 'native' && !native ? `the native opener is not in use: ${nativeGcmUnavailable()}` : undefined;
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
      it(`opens exact bytes for ranges across chunk edges (fed ${piece === 'chunk' ? 'a chunk' : `${piece} bytes`} at a time)`, { skip }, async () => {
        const stored = await storedP;
        for (const range of ranges) {
          const r = openDirect(stored, dataKey, range, piece, gcm);
          assert.equal(r.error, undefined);
          const want = range ? plain.subarray(range.start, range.end + 1) : plain;
          assert.ok(r.verifiedBytes.equals(want), `range ${JSON.stringify(range)}`);
          assert.equal(r.seen.verified, r.run.lastChunk - r.run.firstChunk + 1);
        }
      });
    }

    it('never verifies a chunk that fails its tag: only the chunks before it are let out', { skip }, async () => {
      const stored = Buffer.from(await storedP);
      // A ciphertext byte in the middle of chunk 1.
      stored[HEADER_SIZE + (C + TAG_SIZE) + P + 9]! ^= 0x20;
      const r = openDirect(stored, dataKey, undefined, 'chunk', gcm);
      assert.ok(r.error instanceof BlobIntegrityError, String(r.error));
      assert.match((r.error as Error).message, /chunk 1 failed authentication/);
      assert.equal(r.seen.verified, 1);
      assert.ok(r.verifiedBytes.equals(plain.subarray(0, C)));
      // What chunk 1 wrote before its tag was checked stays past `at`, which only its owner sees.
      assert.equal(r.seen.unverified, C);
    });

    it('fails a run cut short after its last whole chunk, which alone is let out', { skip }, async () => {
      const stored = await storedP;
      for (const [range, cut, whole] of [
        [undefined, 1, 3],
        [undefined, 5 + TAG_SIZE, 3],
        [{ start: 10, end: 2 * C + 5 }, TAG_SIZE + 1, 2],
      ] as const) {
        const r = openDirect(stored, dataKey, range, 'chunk', gcm, cut);
        assert.ok(r.error instanceof BlobIntegrityError, String(r.error));
        assert.equal(r.seen.verified, whole);
        const from = range?.start ?? 0;
        assert.ok(r.verifiedBytes.equals(plain.subarray(from, whole * C)));
      }
    });
  });
