/**
 * The one write path of a staged upload (staged-upload.ts), for an append and a rebase alike:
 * plaintext in, whole chunks sealed (non-final) into the chunk object, then the record rewritten
 * in the other slot. The record is written only after the chunks, so it never names bytes that
 * are not stored.
 */
import type { Readable } from 'node:stream';
import { release } from '../../core/fresh-pieces.js';
import type { BlobWriter, PieceMeter, ThreadHash } from '../blob-store.js';
import { sealInline, sealOffThread } from './append-sealing.js';
import { TAG_SIZE } from './chunk-format.js';
import { writeRecordSlot } from './record-slots.js';
import { encodeRecord } from './staged-record.js';
import type { Opened, StagedStore } from './staged-state.js';

/**
 * Seals `source` into `w` from where `at` left off and records it; resolves with the bytes
 * appended and the upload as now recorded. A failing source ends the sealed stream at a chunk
 * boundary, so what was stored is recorded before the failure is reported; a failing store leaves
 * the old record (the bytes it took are dead). `always` (a rebase) writes the record even when
 * nothing was appended, and keeps the new tail, which its commit seals next.
 */
export async function sealInto(
  s: StagedStore,
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
  const done = s.sealing ? await sealOffThread(s.sealing, from, w, source, signal, hash, meter) : await sealInline(from, w, source, signal, meter);
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
    await writeRecordSlot(s.inner, id, slot, raw);
    const tailStored = done.partial > 0;
    opened = { record: { ...fields, tailLength, header: at.record.header, raw }, slot, dataKey: at.dataKey, tail: done.tail, tailStored };
  }
  if (done.sourceError) throw done.sourceError;
  return { appended: done.appended, opened };
}
