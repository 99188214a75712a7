/**
 * What is staged under an upload id (staged-upload.ts), read back: which record slot is the newer,
 * how many bytes the chunk object holds, whether an append can continue as it is stored (inStep),
 * and the record opened with its key.
 */
import { release } from '../../core/fresh-pieces.js';
import type { BlobStore } from '../blob-store.js';
import { MAGIC, unwrapDataKey } from './chunk-format.js';
import { readRecordSlot } from './record-slots.js';
import type { SealPool } from './seal-pool.js';
import { chunkObjectId, openTail, type StagedRecord } from './staged-record.js';
import { STAGING_PREFIX_SIZE } from './staging-cipher.js';
import { readHead } from './stream-helpers.js';
import type { WrappingKeys } from './wrapping-keys.js';

/** What the staged-upload modules work on. */
export interface StagedStore {
  readonly inner: BlobStore;
  readonly keys: WrappingKeys;
  /** The chunk size a new upload, or a rebase, seals at. */
  readonly chunkSize: number;
  /** Seals appends on the byte threads; inline when absent. */
  readonly sealing?: SealPool;
}

/** What is staged under an upload id, read without any key. */
export type Resolved =
  | { kind: 'none' }
  /** Staged by an earlier version: AES-256-CTR behind a 32-byte prefix. */
  | { kind: 'legacy'; stored: number }
  /** A chunk object whose first record was never written (a crash at the start): nothing staged yet. */
  | { kind: 'empty' }
  /** `stored`: the chunk object's size, which exceeds the record's end after a crash or failed write. */
  | { kind: 'sealed'; record: StagedRecord; slot: 0 | 1; stored: number };

export type Sealed = Extract<Resolved, { kind: 'sealed' }>;

/** A sealed upload opened with its key: where to append and what to seal next. */
export interface Opened {
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
export function inStep(r: Sealed, streamed: boolean): { tailStored: boolean } | undefined {
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

export async function resolveStaged(inner: BlobStore, id: string): Promise<Resolved> {
  const records = await Promise.all([readRecordSlot(inner, id, 0), readRecordSlot(inner, id, 1)]);
  const best = records[1] && (!records[0] || records[1].seq > records[0].seq) ? 1 : records[0] ? 0 : undefined;
  if (best !== undefined) {
    const record = records[best]!;
    // The older record (a previous tail, up to a chunk) is not used: freed now, not at some GC.
    const older = records[best === 0 ? 1 : 0];
    if (older) release(older.raw);
    const stored = await inner.statUpload(chunkObjectId(id, record.generation));
    // The chunk object went (committed, or deleted) before its record: nothing is staged.
    if (stored === undefined || stored < record.end) return { kind: 'none' };
    return { kind: 'sealed', record, slot: best, stored };
  }
  const stored = await inner.statUpload(id);
  if (stored === undefined) return { kind: 'none' };
  if (stored < STAGING_PREFIX_SIZE) return { kind: 'empty' };
  const head = await readStart(inner, id, 8);
  return head.equals(MAGIC) ? { kind: 'empty' } : { kind: 'legacy', stored };
}

/** The data key and tail of a sealed upload; rejects when the key is refused or the record was tampered with. */
export async function openSealed(keys: WrappingKeys, id: string, r: Sealed): Promise<Omit<Opened, 'tailStored'>> {
  const header = r.record.header;
  const dataKey = unwrapDataKey(header, await keys.byId(header.keyId), `staged upload ${id}`);
  return { record: r.record, slot: r.slot, dataKey, tail: openTail(r.record, id, dataKey) };
}

async function readStart(inner: BlobStore, id: string, n: number): Promise<Buffer> {
  const raw = await inner.readUpload(id);
  return readHead(raw, n).finally(() => raw.destroy());
}
