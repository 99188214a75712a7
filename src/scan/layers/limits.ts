/**
 * Bounds on everything an image can make the scanner do. Layers are untrusted input: a pushed
 * image may be a decompression bomb, a tar with millions of entries, or a stream that never
 * ends. Every bound is configurable; exceeding one is a ScanLimitError (scan FAILED), never a
 * silent truncation, because a partial inventory would under-report vulnerabilities.
 */

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export interface ScanLimits {
  /** Decompressed tar bytes over all layers of the image. */
  maxDecompressedBytes: number;
  /**
   * Decompressed ÷ compressed bytes of one layer, checked once the layer has produced more than
   * `ratioGraceBytes`. Real layers compress 2–10×; deflate peaks near 1032×, zstd far higher.
   * Layers holding large zero-filled files (sparse lastlog, disk images) legitimately exceed
   * the default and need a raised limit.
   */
  maxCompressionRatio: number;
  ratioGraceBytes: number;
  /** A zstd frame's declared window is allocated up front by the decoder, so it is bounded. */
  maxZstdWindowBytes: number;
  /** Bytes of matched files held in memory at once (the merged view's whole payload). */
  maxKeptBytes: number;
  /** Text files extractors ask for (dpkg status, lockfiles, package.json ...); larger are skipped. */
  maxTextFileBytes: number;
  /** The sqlite rpmdb; larger is skipped. */
  maxRpmdbBytes: number;
  /** A .jar/.war/.ear is held while its central directory is read; larger are skipped. */
  maxArchiveBytes: number;
  /** ELF files larger than this are not searched for Go build info. */
  maxBinaryBytes: number;
  /**
   * Prefix of an ELF file retained while it streams by. Only Go < 1.18 binaries need it: their
   * build info is reached through pointers into earlier data. The Go ≥ 1.18 format is inline
   * and needs no retained prefix.
   */
  binaryRetainBytes: number;
  /** PAX headers and GNU long names/links, which are buffered to be parsed. */
  maxTarMetadataBytes: number;
  /** Files, directories and links remembered in the merged view. */
  maxNodes: number;
  /** Symlinks followed in one lookup (Linux's MAXSYMLINKS is 40). */
  maxSymlinkHops: number;
  /** Wall-clock time for reading all layers. */
  timeoutMs: number;
}

export const defaultScanLimits: Readonly<ScanLimits> = Object.freeze({
  maxDecompressedBytes: 8 * GiB,
  maxCompressionRatio: 250,
  ratioGraceBytes: 64 * MiB,
  maxZstdWindowBytes: 128 * MiB,
  maxKeptBytes: 256 * MiB,
  maxTextFileBytes: 8 * MiB,
  maxRpmdbBytes: 64 * MiB,
  maxArchiveBytes: 64 * MiB,
  maxBinaryBytes: 512 * MiB,
  binaryRetainBytes: 16 * MiB,
  maxTarMetadataBytes: 1 * MiB,
  maxNodes: 1_000_000,
  maxSymlinkHops: 40,
  timeoutMs: 10 * 60 * 1000,
});

export function resolveLimits(partial?: Partial<ScanLimits>): ScanLimits {
  const out: ScanLimits = { ...defaultScanLimits };
  for (const [k, v] of Object.entries(partial ?? {})) {
    if (v === undefined) continue;
    if (!(k in defaultScanLimits)) throw new TypeError(`unknown scan limit: ${k}`);
    if (typeof v !== 'number' || !(v >= 0)) throw new TypeError(`scan limit ${k} must be a non-negative number`);
    out[k as keyof ScanLimits] = v;
  }
  return out;
}
