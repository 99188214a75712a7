/**
 * Turns a layer blob into tar bytes. The compression is told by magic bytes, never by the
 * manifest's media type alone: clients label layers loosely (docker's "tar.gzip" for zstd,
 * uncompressed layers under a gzip type). Every produced byte is accounted against the image's
 * decompressed-bytes budget and the layer's compression ratio, so a bomb is stopped while it
 * inflates, not after.
 */
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress } from 'fzstd';
import { CorruptLayerError, ScanError, ScanLimitError } from './errors.js';
import type { ScanLimits } from './limits.js';
import { ZstdFrameGuard } from './zstd-frames.js';

export type LayerCompression = 'gzip' | 'zstd' | 'none';

/** Bytes accounted over a whole image, shared by its layers. */
export interface DecompressTotals {
  decompressed: number;
}

export interface DecompressOptions {
  limits: ScanLimits;
  totals: DecompressTotals;
  signal?: AbortSignal;
  /** Told the detected compression, for logs and tests. */
  onCompression?: (c: LayerCompression) => void;
}

const SNIFF_BYTES = 6;
/** fzstd inflates a whole pushed piece at once; small pieces keep its output burst bounded. */
const ZSTD_PIECE = 16 * 1024;

export function sniffCompression(head: Uint8Array): LayerCompression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  // Not OCI layer formats, but docker-archive era tools produced them; name them in the error.
  if (head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) throw new CorruptLayerError('bzip2 layers are not supported');
  if (head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a && head[3] === 0x58) throw new CorruptLayerError('xz layers are not supported');
  return 'none';
}

export async function* decompressLayer(source: AsyncIterable<Uint8Array>, opts: DecompressOptions): AsyncGenerator<Buffer> {
  const { limits, totals, signal } = opts;
  const it = source[Symbol.asyncIterator]();
  let compressedIn = 0;
  let layerOut = 0;
  let kind: LayerCompression = 'none';

  const head: Buffer[] = [];
  let headLen = 0;
  while (headLen < SNIFF_BYTES) {
    const r = await it.next();
    if (r.done) break;
    head.push(Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength));
    headLen += r.value.byteLength;
  }
  kind = sniffCompression(Buffer.concat(head, headLen));
  opts.onCompression?.(kind);

  // Replays the sniffed chunks, then the rest, counting compressed bytes as they are consumed.
  async function* compressed(): AsyncGenerator<Buffer> {
    for (const h of head) {
      compressedIn += h.length;
      yield h;
    }
    head.length = 0;
    for (;;) {
      signal?.throwIfAborted();
      const r = await it.next();
      if (r.done) return;
      compressedIn += r.value.byteLength;
      yield Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    }
  }

  const account = (n: number): void => {
    layerOut += n;
    totals.decompressed += n;
    if (totals.decompressed > limits.maxDecompressedBytes) {
      throw new ScanLimitError('maxDecompressedBytes', limits.maxDecompressedBytes, 'image decompresses to more bytes than allowed');
    }
    if (kind !== 'none' && layerOut > limits.ratioGraceBytes && layerOut > limits.maxCompressionRatio * compressedIn) {
      throw new ScanLimitError('maxCompressionRatio', limits.maxCompressionRatio, 'layer compression ratio exceeds the limit (decompression bomb?)');
    }
  };

  try {
    if (kind === 'none') {
      for await (const c of compressed()) {
        account(c.length);
        yield c;
      }
    } else if (kind === 'gzip') {
      yield* gunzip(compressed(), account, signal);
    } else {
      yield* unzstd(compressed(), account, limits, signal);
    }
  } finally {
    // Stops the source when the tar reader is done early (end-of-archive marker) or failed.
    // Not awaited: a source that never settles its close must not turn an error into a hang.
    it.return?.()?.catch(() => undefined);
  }
}

async function* gunzip(input: AsyncIterable<Buffer>, account: (n: number) => void, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const gz = createGunzip({ chunkSize: 64 * 1024 });
  const out = pipeline(Readable.from(input), gz, () => {
    // Errors surface through iteration of `out`; this callback only keeps pipeline from throwing.
  });
  try {
    for await (const c of out as AsyncIterable<Buffer>) {
      signal?.throwIfAborted();
      account(c.length);
      yield c;
    }
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('Z_')) {
      throw new CorruptLayerError(`gzip decompression failed: ${(e as Error).message}`, { cause: e });
    }
    throw e;
  } finally {
    gz.destroy();
  }
}

async function* unzstd(input: AsyncIterable<Buffer>, account: (n: number) => void, limits: ScanLimits, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const guard = new ZstdFrameGuard(limits.maxZstdWindowBytes);
  let ready: Buffer[] = [];
  const dec = new Decompress((data) => {
    if (data.length === 0) return;
    account(data.length);
    // fzstd may hand out views of its window buffer, which it reuses.
    ready.push(Buffer.from(data));
  });
  const push = (piece: Uint8Array, final: boolean): void => {
    try {
      dec.push(piece, final);
    } catch (e) {
      if (e instanceof ScanError) throw e;
      throw new CorruptLayerError(`zstd decompression failed: ${(e as Error).message}`, { cause: e });
    }
  };
  let sawData = false;
  for await (const chunk of input) {
    for (let off = 0; off < chunk.length; off += ZSTD_PIECE) {
      signal?.throwIfAborted();
      const piece = chunk.subarray(off, off + ZSTD_PIECE);
      guard.feed(piece);
      sawData = true;
      push(piece, false);
      if (ready.length > 0) {
        const batch = ready;
        ready = [];
        yield* batch;
      }
    }
  }
  if (!sawData || !guard.atBoundary) throw new CorruptLayerError('zstd stream ended mid-frame');
  push(new Uint8Array(0), true);
  yield* ready;
}
