/**
 * The rebase of a staged upload (staged-upload.ts): its plaintext sealed afresh, under a new data
 * key, into the next generation's chunk object; the record switched to it; the old object deleted.
 *
 * Why: the record is the truth. An append stores whole chunks first and then the record, so a
 * crash (or a failed write) in between leaves bytes past the record's `end` that no reader looks
 * at: the upload is what its last record says. Those dead bytes cannot be cut off (stores only
 * append), and a chunk written after them would reuse a nonce, so such an upload is rebased before
 * anything more is appended. A rebase also handles a commit under another wrapping key than the
 * upload's (the blob is sealed under the current key) and uploads staged by earlier versions
 * (AES-256-CTR behind a 32-byte prefix, staging-cipher.ts), which stay readable and committable;
 * a commit that rebases re-hashes the bytes against the digest (`tap`).
 *
 * A rebase cut short leaves the new generation an orphan that no record names; the garbage
 * collector's sweep of idle staged uploads reclaims it.
 */
import { randomBytes } from 'node:crypto';
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import type { BlobWriter } from '../blob-store.js';
import { DATA_KEY_SIZE, HEADER_SIZE, sealHeader } from './chunk-format.js';
import { stagedPlaintext } from './staged-plaintext.js';
import { chunkObjectId } from './staged-record.js';
import { sealInto } from './staged-seal-into.js';
import type { Opened, Resolved, StagedStore } from './staged-state.js';
import type { WrappingKey } from './wrapping-keys.js';

const noop = (): void => undefined;

/**
 * Seals the staged plaintext afresh under a new data key and `key` into the next generation,
 * then points the record at it and deletes the old chunk object. `tap` sees the plaintext.
 */
export async function rebase(s: StagedStore, id: string, r: Resolved, key: WrappingKey, tap?: (b: Buffer) => void): Promise<Opened> {
  const plain = await stagedPlaintext(s.inner, s.keys, id, r);
  const sealedBefore = r.kind === 'sealed' ? r.record : undefined;
  const generation = (sealedBefore?.generation ?? 0) + 1;
  const objectId = chunkObjectId(id, generation);
  const dataKey = randomBytes(DATA_KEY_SIZE);
  const header = sealHeader({ wrappingKey: key, dataKey, chunkSize: s.chunkSize });
  let w: BlobWriter;
  try {
    w = await s.inner.writer(objectId, { append: false });
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
      header: { chunkSize: s.chunkSize, keyId: key.id, raw: header },
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
    done = await sealInto(s, id, fresh, w, source, undefined, true);
  } catch (e) {
    await w.cancel().catch(noop);
    throw e;
  } finally {
    await w.close().catch(noop);
  }
  // The old object is unreachable now; a failure to delete it leaves an orphan for the sweep.
  const old = sealedBefore ? chunkObjectId(id, sealedBefore.generation) : id;
  await s.inner.deleteUpload(old).catch(noop);
  return done.opened;
}
