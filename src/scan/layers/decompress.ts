/**
 * Turns a layer blob into tar bytes. The compression is told by magic bytes, never by the
 * manifest's media type alone: clients label layers loosely (docker's "tar.gzip" for zstd,
 * uncompressed layers under a gzip type). Every produced byte is accounted against the image's
 * decompressed-bytes budget and the layer's compression ratio, so a bomb is stopped while it
 * inflates, not after.
 */
import { Readable, pipeline } from 'node:stream';
import { constants, createGunzip, createZstdDecompress } from 'node:zlib';
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
const OUT_CHUNK = 64 * 1024;

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
  yield* inflate(input, createGunzip({ chunkSize: OUT_CHUNK }), 'gzip', (code) => code.startsWith('Z_'), account, signal);
}

/**
 * Node's own zstd (zlib, Node >= 22.15). The frame guard walks the headers of the compressed bytes
 * before the decoder sees them, so a huge declared window is a ScanLimitError naming the limit and
 * a stream cut mid-frame is a CorruptLayerError; windowLogMax is the decoder's own backstop.
 */
async function* unzstd(input: AsyncIterable<Buffer>, account: (n: number) => void, limits: ScanLimits, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const guard = new ZstdFrameGuard(limits.maxZstdWindowBytes);
  let sawData = false;
  // Node's zstd stream takes a frame's end within a written chunk for the end of the stream and
  // drops the rest of that chunk (a layer of several frames would lose all but its first), so
  // every chunk is cut where a frame ends: each write then ends mid-frame or at a frame's end.
  async function* guarded(): AsyncGenerator<Buffer> {
    for await (const chunk of input) {
      let from = 0;
      for (const end of guard.feed(chunk)) {
        yield chunk.subarray(from, end);
        from = end;
      }
      if (from < chunk.length) yield chunk.subarray(from);
      sawData = sawData || chunk.length > 0;
    }
    if (!sawData || !guard.atBoundary) throw new CorruptLayerError('zstd stream ended mid-frame');
  }
  const windowLog = Math.min(31, Math.max(10, Math.ceil(Math.log2(limits.maxZstdWindowBytes))));
  const zstd = createZstdDecompress({ chunkSize: OUT_CHUNK, params: { [constants.ZSTD_d_windowLogMax]: windowLog } });
  yield* inflate(guarded(), zstd, 'zstd', (code) => code.startsWith('ZSTD_'), account, signal);
}

/** Pipes compressed bytes through a zlib decoder, accounting every produced byte as it comes. */
async function* inflate(
  input: AsyncIterable<Buffer>,
  decoder: NodeJS.ReadWriteStream & { destroy(): void },
  name: string,
  isDecoderError: (code: string) => boolean,
  account: (n: number) => void,
  signal?: AbortSignal,
): AsyncGenerator<Buffer> {
  const out = pipeline(Readable.from(input), decoder, () => {
    // Errors surface through iteration of `out`; this callback only keeps pipeline from throwing.
  });
  try {
    for await (const c of out as AsyncIterable<Buffer>) {
      signal?.throwIfAborted();
      account(c.length);
      yield c;
    }
  } catch (e) {
    if (e instanceof ScanError) throw e;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && isDecoderError(code)) {
      throw new CorruptLayerError(`${name} decompression failed: ${(e as Error).message}`, { cause: e });
    }
    throw e;
  } finally {
    decoder.destroy();
  }
}
