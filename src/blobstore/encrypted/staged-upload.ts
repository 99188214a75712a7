/**
 * Staged uploads of the encrypted store, written once, in the committed format (format v2).
 *
 * An upload is a chunk object plus a record (staged-record.ts), both inner staged uploads:
 *
 *   chunk object   header || chunk 0 || ... || chunk n-1    exactly a committed blob without its
 *                  final chunk (chunk-format.ts): the upload's own data key, wrapped in the
 *                  header, and whole chunks sealed (not final) as the bytes arrive; when the
 *                  append sealed as bytes came (streamed-chunk.ts), then the tail's ciphertext,
 *                  which is the final chunk's without its tag (see inStep).
 *   record         which chunk object, how many chunks it holds, and the tail: the plaintext after
 *                  them (≤ one chunk, since only the end knows which chunk is final), sealed under
 *                  the data key. Rewritten after each append, alternating between two slots.
 *
 * The chunk object is the upload id itself (generation 0); the slots and later generations have
 * ids derived from it, so any node holding the wrapping keys can resume the upload. Commit seals
 * the tail as the final chunk, appends it (only its tag when its ciphertext is stored), and
 * commits the chunk object (a rename on fs): the bytes are never written twice, and read back only
 * as an append that streamed ends, its tail (≤ one chunk, streamed-chunk.ts).
 *
 * The record is the truth. An append stores whole chunks first and then the record, so a crash
 * (or a failed write) in between leaves bytes past the record's `end` that no reader looks at:
 * the upload is what its last record says. Those dead bytes cannot be cut off (stores only
 * append), and a chunk written after them would reuse a nonce, so such an upload is first
 * *rebased*: its plaintext is sealed afresh under a new data key into the next generation, the
 * record switched to it, the old object deleted. A rebase also handles a commit under another
 * wrapping key than the upload's (the blob is sealed under the current key) and uploads staged by
 * earlier versions (AES-256-CTR behind a 32-byte prefix, staging-cipher.ts), which stay readable
 * and committable; a commit that rebases re-hashes the bytes against the digest.
 *
 * Orphans (a crash mid-delete, a rebase cut short) are staged uploads no session names; the
 * garbage collector's sweep of idle staged uploads reclaims them.
 */
import { randomBytes } from 'node:crypto';
import { PassThrough, Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import { sealInline, sealOffThread, streams } from './append-sealing.js';
import { readHead, window, withSignal } from './stream-helpers.js';
import { createDigester, digestAlgorithm, type Digest } from '../../core/digest.js';
import { release } from '../../core/fresh-pieces.js';
import { Turns } from '../../core/turns.js';
import type { BlobStore, BlobWriter, PieceMeter, ThreadHash } from '../blob-store.js';
import { ChunkSealer, DATA_KEY_SIZE, HEADER_SIZE, MAGIC, TAG_SIZE, ciphertextSize, sealHeader, unwrapDataKey } from './chunk-format.js';
import { OpenTransform } from './chunk-opener.js';
import { readRecordSlot, writeRecordSlot } from './record-slots.js';
import type { SealPool } from './seal-pool.js';
import { chunkObjectId, encodeRecord, openTail, slotId, type StagedRecord } from './staged-record.js';
import { STAGING_PREFIX_SIZE, createStagingCipher, parseStagingPrefix, stagingKey } from './staging-cipher.js';
import type { WrappingKey, WrappingKeys } from './wrapping-keys.js';

const noop = (): void => undefined;

/**
 * Commits that may hold their buffers at once, in the whole process. Each holds up to three
 * chunk-sized buffers (the record read back, the opened tail, the sealed final chunk) until its
 * final chunk is written; a crowd of uploads ends together, and 200 commits at once held the main
 * malloc arena at 74-147 MB (notes/2026-12-04-s12-rss.md). One commit alone never waits; the
 * fsync and rename come after the turn, so they still overlap.
 */
const commitTurns = new Turns(8);

/** Commits under way in the process (fsync included), and how many make a crowd's end. */
let committing = 0;
const CROWD_COMMITS = 4;

/** What is staged under an upload id, read without any key. */
export type Resolved =
  | { kind: 'none' }
  /** Staged by an earlier version: AES-256-CTR behind a 32-byte prefix. */
  | { kind: 'legacy'; stored: number }
  /** A chunk object whose first record was never written (a crash at the start): nothing staged yet. */
  | { kind: 'empty' }
  /** `stored`: the chunk object's size, which exceeds the record's end after a crash or failed write. */
  | { kind: 'sealed'; record: StagedRecord; slot: 0 | 1; stored: number };

/** A sealed upload opened with its key: where to append and what to seal next. */
interface Opened {
  record: StagedRecord;
  slot: 0 | 1;
  dataKey: Buffer;
  tail: Buffer;
  /** The tail's ciphertext follows the chunks in the chunk object (see inStep). */
  tailStored: boolean;
}

/**
 * Whether the upload can be continued as it is stored, and how: undefined when bytes past the
 * record are dead (a rebase first); else whether the tail's ciphertext is stored after the chunks.
 * An append sealed as bytes come (streamed-chunk.ts) leaves it there, and every append continuing
 * from a record writes, at `end`, the tail's ciphertext first: so exactly `tailLength` bytes past
 * `end` can only be those bytes (same key, nonce and plaintext), not dead ones. Only an append
 * that streams (`streamed`) and the commit continue from there.
 */
function inStep(r: Extract<Resolved, { kind: 'sealed' }>, streamed: boolean): { tailStored: boolean } | undefined {
  if (r.stored === r.record.end) return { tailStored: false };
  if (streamed && r.record.tailLength > 0 && r.stored === r.record.end + r.record.tailLength) return { tailStored: true };
  return undefined;
}

export function plaintextSizeOf(r: Resolved): number | undefined {
  switch (r.kind) {
    case 'none':
      return undefined;
    case 'empty':
      return 0;
    case 'legacy':
      return r.stored - STAGING_PREFIX_SIZE;
    case 'sealed':
      return r.record.chunks * r.record.header.chunkSize + r.record.tailLength;
  }
}

export class StagedUploads {
  constructor(
    private readonly inner: BlobStore,
    private readonly keys: WrappingKeys,
    private readonly chunkSize: number,
    /** Seals appends on the byte threads; inline when absent. */
    private readonly sealing?: SealPool,
  ) {}

  async resolve(id: string): Promise<Resolved> {
    const records = await Promise.all([readRecordSlot(this.inner, id, 0), readRecordSlot(this.inner, id, 1)]);
    const best = records[1] && (!records[0] || records[1].seq > records[0].seq) ? 1 : records[0] ? 0 : undefined;
    if (best !== undefined) {
      const record = records[best]!;
      // The older record (a previous tail, up to a chunk) is not used: freed now, not at some GC.
      const older = records[best === 0 ? 1 : 0];
      if (older) release(older.raw);
      const stored = await this.inner.statUpload(chunkObjectId(id, record.generation));
      // The chunk object went (committed, or deleted) before its record: nothing is staged.
      if (stored === undefined || stored < record.end) return { kind: 'none' };
      return { kind: 'sealed', record, slot: best, stored };
    }
    const stored = await this.inner.statUpload(id);
    if (stored === undefined) return { kind: 'none' };
    if (stored < STAGING_PREFIX_SIZE) return { kind: 'empty' };
    const head = await this.readStart(id, 8);
    return head.equals(MAGIC) ? { kind: 'empty' } : { kind: 'legacy', stored };
  }

  /** The staged plaintext; rejects before streaming when nothing is staged or the key is unusable. */
  async plaintext(id: string, r: Resolved, signal?: AbortSignal): Promise<Readable> {
    if (r.kind === 'none') throw new Error(`upload not found: ${id}`);
    if (r.kind === 'empty') return withSignal(Readable.from([]), signal);
    if (r.kind === 'legacy') return this.legacyPlaintext(id, signal);
    const { record, tail, dataKey } = await this.open(id, r);
    if (record.chunks === 0) return withSignal(Readable.from(tail.length ? [tail] : []), signal);
    const { chunkSize } = record.header;
    const raw = await this.inner.readUpload(chunkObjectId(id, record.generation), signal);
    const run = {
      firstChunk: 0,
      lastChunk: record.chunks - 1,
      finalChunk: record.chunks,
      cipherStart: HEADER_SIZE,
      cipherEnd: record.end - 1,
      start: 0,
      end: record.chunks * chunkSize,
    };
    const open = new OpenTransform({ dataKey, chunkSize, run, label: `staged upload ${id}` });
    const out = new PassThrough();
    pipeline(raw, window(HEADER_SIZE, record.end), open, noop);
    // The tail follows the chunks; an error anywhere ends `out` with it.
    open.on('error', (e) => out.destroy(e));
    open.pipe(out, { end: false });
    open.on('end', () => (tail.length ? out.end(tail) : out.end()));
    out.on('close', () => open.destroy());
    return withSignal(out, signal);
  }

  /** Starts the upload afresh under `key`, discarding anything staged under the id. */
  async restart(id: string, key: WrappingKey): Promise<void> {
    await this.remove(id);
    const w = await this.inner.writer(id, { append: false });
    const dataKey = randomBytes(DATA_KEY_SIZE);
    const header = sealHeader({ wrappingKey: key, dataKey, chunkSize: this.chunkSize });
    try {
      await w.append(Readable.from([header]));
    } finally {
      await w.close();
    }
    await writeRecordSlot(this.inner, id, 0, encodeRecord(id, { generation: 0, seq: 1, chunks: 0, end: HEADER_SIZE, header }, dataKey, Buffer.alloc(0)));
  }

  /**
   * Appends the plaintext `source` yields, sealing whole chunks into the chunk object and then
   * rewriting the record; resolves with the bytes appended. Whatever the source does, the chunks
   * stored are whole and recorded, so a client that goes away mid-way can resume from there.
   */
  async append(id: string, source: Readable, signal?: AbortSignal, hash?: ThreadHash, meter?: PieceMeter): Promise<{ appended: number; size: number }> {
    // A metered source is the caller's (BlobWriter.meters): a failure here leaves it alone.
    const dispose = (): void => {
      if (!meter) source.destroy();
    };
    let r: Resolved;
    try {
      r = await this.resolve(id);
      if (r.kind === 'none') throw new Error(`upload not found: ${id}`);
    } catch (e) {
      dispose();
      throw e;
    }
    let opened: Opened | undefined;
    let w: BlobWriter | undefined;
    try {
      if (r.kind === 'sealed') {
        w = await this.inner.writer(chunkObjectId(id, r.record.generation), { append: true });
        const step = inStep(r, streams(this.sealing, w));
        if (step) opened = { ...(await this.open(id, r)), ...step };
        else await w.close();
      }
      // Nothing can be appended after dead bytes; the key is the current one, as for a new upload.
      if (!opened) {
        w = undefined;
        opened = await this.rebase(id, r, await this.keys.current());
      }
      w ??= await this.inner.writer(chunkObjectId(id, opened.record.generation), { append: true });
    } catch (e) {
      dispose();
      await w?.close().catch(noop);
      throw e;
    }
    try {
      const done = await this.sealInto(id, opened, w, source, signal, false, hash, meter);
      const size = done.opened.record.chunks * done.opened.record.header.chunkSize + done.opened.record.tailLength;
      // The tail (up to a chunk) is in the record and nothing keeps it: the next request reads the
      // record back. Freed at once (sealInto already freed a new one): a crowd of uploads ends
      // together, and left to the GC these were tens of MB of garbage at its end (core/fresh-pieces.ts).
      release(done.opened.tail);
      return { appended: done.appended, size };
    } finally {
      await w.close();
    }
  }

  /**
   * Makes the staged upload the blob `digest` under `key`: seals the tail as the final chunk,
   * appends it and commits the chunk object. An upload that is not in step (dead bytes, another
   * wrapping key, an earlier format) is rebased first, and then its bytes are checked against the digest.
   */
  async commit(id: string, digest: Digest, key: WrappingKey): Promise<void> {
    let generationDone: number;
    committing++;
    try {
      const { w, generation } = await commitTurns.run(() => this.appendFinal(id, digest, key));
      // Its buffers are freed: while a crowd ends, what it freed goes back as it ends
      // (quiet-memory.ts). Not for one upload at a time: the quiet trim follows it, and a trim
      // per commit cost page faults for the next one.
      if (committing >= CROWD_COMMITS) this.sealing?.quietMemory.trimSoon();
      try {
        // The fsync and rename, outside the turn: the buffers are gone by now (on fs).
        await w.commit(digest);
      } catch (e) {
        await w.close().catch(noop);
        throw e;
      }
      generationDone = generation;
    } finally {
      committing--;
    }
    // The generation is the one just committed: reading both records back to learn it cost a
    // chunk-sized read per commit, left to the GC, when a whole crowd commits together.
    await this.removeGeneration(id, generationDone);
  }

  /** commit() up to the commit itself: the final chunk appended; the writer is the caller's. */
  private async appendFinal(id: string, digest: Digest, key: WrappingKey): Promise<{ w: BlobWriter; generation: number }> {
    const r = await this.resolve(id);
    if (r.kind === 'none') throw new Error(`upload not found: ${id}`);
    let opened: Opened;
    const step = r.kind === 'sealed' && r.record.header.keyId.equals(key.id) ? inStep(r, true) : undefined;
    if (r.kind === 'sealed' && step) {
      opened = { ...(await this.open(id, r)), ...step };
      // The record as read back (a copy of its own, up to a chunk) is opened: freed now, not
      // held through the commit's fsync (below), which under a crowd is when most of them wait.
      release(r.record.raw);
    } else {
      const hash = createDigester(digestAlgorithm(digest));
      opened = await this.rebase(id, r, key, (b) => hash.update(b));
      if (`${digestAlgorithm(digest)}:${hash.digest('hex')}` !== digest) {
        throw new Error(`staged upload ${id} does not hash to ${digest}: corrupt or tampered with`);
      }
    }
    const { record, dataKey, tail } = opened;
    const { chunkSize } = record.header;
    const sealer = new ChunkSealer({ dataKey, chunkSize, index: record.chunks });
    const whole = [...sealer.update(tail), ...sealer.final()];
    // The final chunk's ciphertext is the one stored (the flag is in the AAD, so only the tag
    // differs): only its tag is appended then.
    const sealed = opened.tailStored ? whole.slice(-1) : whole;
    const plainSize = record.chunks * chunkSize + tail.length;
    // Sealed, the plaintext tail is no longer needed (as in append()).
    release(tail);
    const w = await this.inner.writer(chunkObjectId(id, record.generation), { append: true });
    try {
      await w.append(Readable.from(sealed));
      // A writer with a local file (fs) wrote them out and keeps none: freed before the fsync.
      // Other stores may keep the very buffers (memory), so theirs are left to the GC.
      if (w.localAppend) for (const b of whole) release(b);
      const expected = ciphertextSize(plainSize, chunkSize);
      // Another writer appended meanwhile: what is stored is no blob; the next try rebases.
      if (w.size !== expected) throw new Error(`staged upload ${id} holds ${w.size} bytes, not ${expected}: written to concurrently`);
    } catch (e) {
      await w.close().catch(noop);
      throw e;
    }
    return { w, generation: record.generation };
  }

  /** Removes everything staged under the id: records first, so none outlives its chunk object. */
  async remove(id: string): Promise<void> {
    const records = await Promise.all([readRecordSlot(this.inner, id, 0).catch(noop), readRecordSlot(this.inner, id, 1).catch(noop)]);
    const generation = Math.max(0, ...records.map((r) => r?.generation ?? 0));
    for (const r of records) if (r) release(r.raw);
    await this.removeGeneration(id, generation);
  }

  /** remove() when the latest record's generation is known: the records are not read again. */
  private async removeGeneration(id: string, generation: number): Promise<void> {
    await Promise.all([this.inner.deleteUpload(slotId(id, 0)), this.inner.deleteUpload(slotId(id, 1))]);
    const objects = new Set([id, chunkObjectId(id, generation), chunkObjectId(id, generation + 1)]);
    await Promise.all([...objects].map((o) => this.inner.deleteUpload(o)));
  }

  /** Rejects as reading or appending would when the upload's key is refused or its record was tampered with. */
  async checkKey(id: string, r: Resolved): Promise<void> {
    if (r.kind === 'sealed') await this.open(id, r);
    else if (r.kind === 'legacy') (await this.legacyPlaintext(id)).destroy();
  }

  /** The data key and tail of a sealed upload; rejects when the key is refused or the record was tampered with. */
  private async open(id: string, r: Extract<Resolved, { kind: 'sealed' }>): Promise<Omit<Opened, 'tailStored'>> {
    const header = r.record.header;
    const dataKey = unwrapDataKey(header, await this.keys.byId(header.keyId), `staged upload ${id}`);
    return { record: r.record, slot: r.slot, dataKey, tail: openTail(r.record, id, dataKey) };
  }

  /**
   * Seals the staged plaintext afresh under a new data key and `key` into the next generation,
   * then points the record at it and deletes the old chunk object. `tap` sees the plaintext.
   */
  private async rebase(id: string, r: Resolved, key: WrappingKey, tap?: (b: Buffer) => void): Promise<Opened> {
    const plain = await this.plaintext(id, r);
    const sealedBefore = r.kind === 'sealed' ? r.record : undefined;
    const generation = (sealedBefore?.generation ?? 0) + 1;
    const objectId = chunkObjectId(id, generation);
    const dataKey = randomBytes(DATA_KEY_SIZE);
    const header = sealHeader({ wrappingKey: key, dataKey, chunkSize: this.chunkSize });
    let w: BlobWriter;
    try {
      w = await this.inner.writer(objectId, { append: false });
      await w.append(Readable.from([header]));
    } catch (e) {
      plain.destroy();
      throw e;
    }
    const fresh: Opened = {
      record: {
        generation,
        seq: sealedBefore?.seq ?? 0,
        chunks: 0,
        end: HEADER_SIZE,
        tailLength: 0,
        header: { chunkSize: this.chunkSize, keyId: key.id, raw: header },
        raw: header,
      },
      slot: r.kind === 'sealed' ? r.slot : 1,
      dataKey,
      tail: Buffer.alloc(0),
      tailStored: false,
    };
    let source: Readable = plain;
    if (tap) {
      const tapper = new Transform({
        transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
          tap(chunk);
          cb(null, chunk);
        },
      });
      pipeline(plain, tapper, noop);
      source = tapper;
    }
    let done: { opened: Opened; failed?: unknown };
    try {
      done = await this.sealInto(id, fresh, w, source, undefined, true);
    } catch (e) {
      await w.cancel().catch(noop);
      throw e;
    } finally {
      await w.close().catch(noop);
    }
    // The old object is unreachable now; a failure to delete it leaves an orphan for the sweep.
    const old = sealedBefore ? chunkObjectId(id, sealedBefore.generation) : id;
    await this.inner.deleteUpload(old).catch(noop);
    return done.opened;
  }

  /**
   * The one write path: plaintext in, whole chunks sealed (non-final) into `w`, then the record.
   * A failing source ends the sealed stream at a chunk boundary, so what was stored is recorded
   * before the failure is reported; a failing store leaves the old record (the bytes it took are dead).
   */
  private async sealInto(
    id: string,
    at: Opened,
    w: BlobWriter,
    source: Readable,
    signal?: AbortSignal,
    always = false,
    hash?: ThreadHash,
    meter?: PieceMeter,
  ): Promise<{ appended: number; opened: Opened }> {
    const { chunkSize } = at.record.header;
    const from = { dataKey: at.dataKey, chunkSize, index: at.record.chunks, tail: at.tail, tailStored: at.tailStored };
    // Only an append given a hash feeds it: never the plaintext a rebase re-seals.
    const done = this.sealing ? await sealOffThread(this.sealing, from, w, source, signal, hash, meter) : await sealInline(from, w, source, signal, meter);
    const end = at.record.end + done.chunks * (chunkSize + TAG_SIZE);
    if (w.size !== end + done.partial) throw new Error(`staged upload ${id}: ${w.size} bytes stored, ${end + done.partial} expected`);
    let opened = at;
    if (done.appended > 0 || always) {
      const seq = at.record.seq + 1;
      const slot: 0 | 1 = at.slot === 0 ? 1 : 0;
      const fields = { generation: at.record.generation, seq, chunks: at.record.chunks + done.chunks, end, header: at.record.header.raw };
      const raw = encodeRecord(id, fields, at.dataKey, done.tail);
      const tailLength = done.tail.length;
      // An append's new tail is in the record now, and the next request reads it from there: freed
      // before the record's write, which at a crowd's end waits behind the commits' fsyncs on
      // libuv's pool. A rebase's tail is what its commit seals next: kept.
      if (!always) release(done.tail);
      await writeRecordSlot(this.inner, id, slot, raw);
      const tailStored = done.partial > 0;
      opened = { record: { ...fields, tailLength, header: at.record.header, raw }, slot, dataKey: at.dataKey, tail: done.tail, tailStored };
    }
    if (done.sourceError) throw done.sourceError;
    return { appended: done.appended, opened };
  }

  private async readStart(id: string, n: number): Promise<Buffer> {
    const raw = await this.inner.readUpload(id);
    return readHead(raw, n).finally(() => raw.destroy());
  }

  private async legacyPlaintext(id: string, signal?: AbortSignal): Promise<Readable> {
    const raw = await this.inner.readUpload(id, signal);
    try {
      const { keyId, salt } = parseStagingPrefix(await readHead(raw, STAGING_PREFIX_SIZE));
      const cipher = createStagingCipher(stagingKey(await this.keys.byId(keyId), salt, id), 0);
      pipeline(raw, cipher, noop);
      return withSignal(cipher, signal);
    } catch (e) {
      raw.destroy();
      throw e;
    }
  }
}
