/**
 * The plaintext of a staged upload (staged-upload.ts) as a stream: a sealed upload's chunks opened
 * from the chunk object up to its record's end, then the record's tail; or an upload staged by an
 * earlier version, deciphered (staging-cipher.ts). The store's readUpload and a rebase read it.
 */
import { PassThrough, Readable, pipeline } from 'node:stream';
import type { BlobStore } from '../blob-store.js';
import { HEADER_SIZE } from './chunk-format.js';
import { OpenTransform } from './chunk-opener.js';
import { chunkObjectId } from './staged-record.js';
import { openSealed, type Resolved } from './staged-state.js';
import { STAGING_PREFIX_SIZE, createStagingCipher, parseStagingPrefix, stagingKey } from './staging-cipher.js';
import { readHead, window, withSignal } from './stream-helpers.js';
import type { WrappingKeys } from './wrapping-keys.js';

const noop = (): void => undefined;

/** The staged plaintext; rejects before streaming when nothing is staged or the key is unusable. */
export async function stagedPlaintext(inner: BlobStore, keys: WrappingKeys, id: string, r: Resolved, signal?: AbortSignal): Promise<Readable> {
  if (r.kind === 'none') throw new Error(`upload not found: ${id}`);
  if (r.kind === 'empty') return withSignal(Readable.from([]), signal);
  if (r.kind === 'legacy') return legacyPlaintext(inner, keys, id, signal);
  const { record, tail, dataKey } = await openSealed(keys, id, r);
  if (record.chunks === 0) return withSignal(Readable.from(tail.length ? [tail] : []), signal);
  const { chunkSize } = record.header;
  const raw = await inner.readUpload(chunkObjectId(id, record.generation), signal);
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

/** An upload staged by an earlier version: AES-256-CTR behind a 32-byte prefix. */
export async function legacyPlaintext(inner: BlobStore, keys: WrappingKeys, id: string, signal?: AbortSignal): Promise<Readable> {
  const raw = await inner.readUpload(id, signal);
  try {
    const { keyId, salt } = parseStagingPrefix(await readHead(raw, STAGING_PREFIX_SIZE));
    const cipher = createStagingCipher(stagingKey(await keys.byId(keyId), salt, id), 0);
    pipeline(raw, cipher, noop);
    return withSignal(cipher, signal);
  } catch (e) {
    raw.destroy();
    throw e;
  }
}
