/**
 * Staged uploads of the encrypted store, written once, in the committed format (format v2).
 *
 * An upload is a chunk object plus a record (staged-record.ts), both inner staged uploads:
 *
 *   chunk object   header || chunk 0 || ... || chunk n-1    exactly a committed blob without its
 *                  final chunk (chunk-format.ts): the upload's own data key, wrapped in the
 *                  header, and whole chunks sealed (not final) as the bytes arrive; when the
 *                  append sealed as bytes came (streamed-chunk.ts), then the tail's ciphertext,
 *                  which is the final chunk's without its tag (inStep, staged-state.ts).
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
 * The record is the truth. An append stores whole chunks first and then the record
 * (staged-seal-into.ts), so a crash (or a failed write) in between leaves dead bytes past the
 * record's `end`: the upload is what its last record says, and is *rebased* (staged-rebase.ts,
 * which says why) before anything more is appended. What is staged is read back by
 * staged-state.ts, its plaintext by staged-plaintext.ts.
 *
 * Orphans (a crash mid-delete, a rebase cut short) are staged uploads no session names; the
 * garbage collector's sweep of idle staged uploads reclaims them.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { streams } from './append-sealing.js';
import { createDigester, digestAlgorithm, type Digest } from '../../core/digest.js';
import { release } from '../../core/fresh-pieces.js';
import { Turns } from '../../core/turns.js';
import type { BlobStore, BlobWriter, PieceMeter, ThreadHash } from '../blob-store.js';
import { ChunkSealer, DATA_KEY_SIZE, HEADER_SIZE, ciphertextSize, sealHeader } from './chunk-format.js';
import { readRecordSlot, writeRecordSlot } from './record-slots.js';
import type { SealPool } from './seal-pool.js';
import { legacyPlaintext, stagedPlaintext } from './staged-plaintext.js';
import { rebase } from './staged-rebase.js';
import { chunkObjectId, encodeRecord, slotId } from './staged-record.js';
import { sealInto } from './staged-seal-into.js';
import { inStep, openSealed, resolveStaged, type Opened, type Resolved, type StagedStore } from './staged-state.js';
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

export class StagedUploads {
  /** What the rebase and the write path (their own modules) work on. */
  private readonly store: StagedStore;

  constructor(
    private readonly inner: BlobStore,
    private readonly keys: WrappingKeys,
    private readonly chunkSize: number,
    /** Seals appends on the byte threads; inline when absent. */
    private readonly sealing?: SealPool,
  ) {
    this.store = { inner, keys, chunkSize, sealing };
  }

  resolve(id: string): Promise<Resolved> {
    return resolveStaged(this.inner, id);
  }

  /** The staged plaintext; rejects before streaming when nothing is staged or the key is unusable. */
  plaintext(id: string, r: Resolved, signal?: AbortSignal): Promise<Readable> {
    return stagedPlaintext(this.inner, this.keys, id, r, signal);
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
        if (step) opened = { ...(await openSealed(this.keys, id, r)), ...step };
        else await w.close();
      }
      // Nothing can be appended after dead bytes; the key is the current one, as for a new upload.
      if (!opened) {
        w = undefined;
        opened = await rebase(this.store, id, r, await this.keys.current());
      }
      w ??= await this.inner.writer(chunkObjectId(id, opened.record.generation), { append: true });
    } catch (e) {
      dispose();
      await w?.close().catch(noop);
      throw e;
    }
    try {
      const done = await sealInto(this.store, id, opened, w, source, signal, false, hash, meter);
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
      opened = { ...(await openSealed(this.keys, id, r)), ...step };
      // The record as read back (a copy of its own, up to a chunk) is opened: freed now, not
      // held through the commit's fsync (below), which under a crowd is when most of them wait.
      release(r.record.raw);
    } else {
      const hash = createDigester(digestAlgorithm(digest));
      opened = await rebase(this.store, id, r, key, (b) => hash.update(b));
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
    if (r.kind === 'sealed') await openSealed(this.keys, id, r);
    else if (r.kind === 'legacy') (await legacyPlaintext(this.inner, this.keys, id)).destroy();
  }
}
