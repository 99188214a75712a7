/** Small S3 matters the driver needs, kept apart so that the driver reads as its protocol. */
import type { ByteRange } from '../blob-store.js';
import type { ServerSideEncryption } from './s3-location.js';

export function httpRange(r: ByteRange): string {
  return `bytes=${r.start}-${r.end}`;
}

/** `x-amz-copy-source` is `bucket/key`, URL-encoded, slashes kept. */
export function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/** AWS quotes ETags everywhere; RGW leaves the one in a part copy's result bare. */
export function unquote(etag: string): string {
  return etag.replace(/^"|"$/g, '');
}

export function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * HEAD answers a bare 404 (`NotFound`), GET answers `NoSuchKey`. NoSuchBucket is a
 * misconfiguration, not an absent blob, and must not read as one.
 */
export function isNotFound(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  if (err?.name === 'NoSuchBucket') return false;
  return err?.name === 'NoSuchKey' || err?.name === 'NotFound' || err?.$metadata?.httpStatusCode === 404;
}

/** Runs `fn` over `items` with at most `limit` calls in flight, results in order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The SSE parameters of a PutObject or CreateMultipartUpload; reads and part copies need none. */
export function sseHeaders(sse: ServerSideEncryption | undefined): { ServerSideEncryption?: 'AES256' | 'aws:kms' | 'aws:kms:dsse'; SSEKMSKeyId?: string } {
  if (!sse) return {};
  if (sse.type === 'AES256') return { ServerSideEncryption: 'AES256' };
  return { ServerSideEncryption: sse.type, ...(sse.keyId !== undefined && { SSEKMSKeyId: sse.keyId }) };
}
