/**
 * An encrypted upload's two record slots (staged-record.ts) in the inner store: each read whole
 * and written whole. A record holds up to a chunk of sealed tail, and a crowd of uploads reads
 * and writes them together (issue 14): each buffer here is one of its own, freed as soon as
 * nothing needs it rather than left to the GC.
 */
import { Readable } from 'node:stream';
import { release } from '../../core/fresh-pieces.js';
import type { BlobStore } from '../blob-store.js';
import { RECORD_FIXED_SIZE, parseRecord, slotId, type StagedRecord } from './staged-record.js';
import { readAll } from './stream-helpers.js';

/** The record in `slot`, or undefined when the slot holds none (never written, or cut short). */
export async function readRecordSlot(inner: BlobStore, id: string, slot: 0 | 1): Promise<StagedRecord | undefined> {
  const slotUpload = slotId(id, slot);
  if (inner.readSmallUpload) {
    const raw = await inner.readSmallUpload(slotUpload);
    if (raw === undefined) return undefined;
    const record = raw.length < RECORD_FIXED_SIZE ? undefined : parseRecord(raw, id);
    if (!record) release(raw);
    return record;
  }
  const size = await inner.statUpload(slotUpload);
  if (size === undefined || size < RECORD_FIXED_SIZE) return undefined;
  let raw: Buffer;
  try {
    raw = await readAll(await inner.readUpload(slotUpload));
  } catch (e) {
    // Deleted between the two calls.
    if ((await inner.statUpload(slotUpload)) === undefined) return undefined;
    throw e;
  }
  return parseRecord(raw, id);
}

/** Rewrites `slot` with the record `raw`, which is freed afterwards when the store kept no reference to it. */
export async function writeRecordSlot(inner: BlobStore, id: string, slot: 0 | 1, raw: Buffer): Promise<void> {
  const w = await inner.writer(slotId(id, slot), { append: false });
  try {
    await w.append(Readable.from([raw]));
  } finally {
    await w.close();
  }
  // Nothing reads it again (the next request reads the record back): a writer with a local file
  // (fs) wrote it out and keeps none, so it is freed now. Other stores may keep the very buffer (memory).
  if (w.localAppend) release(raw);
}
