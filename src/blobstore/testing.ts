/** Byte helpers the blob store tests share. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdir, readlink } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { digestOf, type Digest } from '../core/digest.js';
import type { BlobStore } from './blob-store.js';

/** Deterministic pseudo-random bytes, different per seed, so misplaced chunks are caught. */
export function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = (seed * 2654435761 + 1) >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** A byte stream yielding `data` in pieces, as a request body would arrive. */
export function sourceOf(data: Buffer, piece = 16 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < data.length; i += piece) yield data.subarray(i, i + piece);
    })(),
  );
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Writes `data` through a fresh upload and commits it under `digest` (its sha256 by default). */
export async function putBlob(store: BlobStore, data: Buffer, digest: Digest = digestOf(data)): Promise<Digest> {
  const w = await store.writer(randomUUID(), { append: false });
  await w.append(sourceOf(data));
  await w.commit(digest);
  return digest;
}

/** Appends `part` to upload `id` in pieces of `piece` bytes, as one PATCH does, and closes the writer. */
export async function appendPart(store: BlobStore, id: string, part: Buffer, piece?: number): Promise<void> {
  const w = await store.writer(id, { append: true });
  assert.equal(await w.append(sourceOf(part, piece)), part.length);
  await w.close();
}

/** Files under `dir` this process holds open (worker threads come and go with fds of their own). */
export async function openFilesUnder(dir: string): Promise<number> {
  let n = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target.startsWith(dir)) n++;
  }
  return n;
}
