/**
 * Walks the frame structure of a zstd stream alongside the decoder, to refuse frames whose
 * declared window is too large *before* the decoder allocates it (a decoder allocates the
 * window, up to 2 GiB, as soon as it reads a frame header), and to tell where frames end. Only headers are parsed: block contents are
 * skipped by their declared sizes, so this costs nothing per byte.
 * Format: RFC 8878 §3.1 (frames, skippable frames, block headers).
 */
import { CorruptLayerError, ScanLimitError } from './errors.js';

const ZSTD_MAGIC = 0xfd2fb528;
const BLOCK_MAX = 128 * 1024;

type Step = { kind: 'collect'; n: number; done: (b: Buffer) => void } | { kind: 'skip'; n: number; done: () => void };

export class ZstdFrameGuard {
  private step: Step;
  private buf: Buffer = Buffer.alloc(0);
  private checksum = false;
  /** True between frames: a stream may end only there. */
  atBoundary = true;

  constructor(private readonly maxWindow: number) {
    this.step = this.magic();
  }

  /** Checks the next bytes of the stream; returns the offsets in `chunk` where a frame ended. */
  feed(chunk: Uint8Array): number[] {
    const ends: number[] = [];
    let off = 0;
    while (off < chunk.length) {
      const s = this.step;
      if (s.kind === 'skip') {
        const take = Math.min(s.n, chunk.length - off);
        s.n -= take;
        off += take;
        if (s.n === 0) s.done();
      } else {
        const take = Math.min(s.n - this.buf.length, chunk.length - off);
        this.buf = Buffer.concat([this.buf, chunk.subarray(off, off + take)]);
        off += take;
        if (this.buf.length === s.n) {
          const b = this.buf;
          this.buf = Buffer.alloc(0);
          s.done(b);
        }
      }
      if (this.atBoundary && ends.at(-1) !== off) ends.push(off);
    }
    return ends;
  }

  private magic(): Step {
    this.atBoundary = true;
    return {
      kind: 'collect',
      n: 4,
      done: (b) => {
        this.atBoundary = false;
        const m = b.readUInt32LE(0);
        if (m === ZSTD_MAGIC) this.step = this.frameHeader();
        else if ((m & 0xfffffff0) >>> 0 === 0x184d2a50) this.step = this.skippable();
        else throw new CorruptLayerError('zstd stream: bad frame magic');
      },
    };
  }

  private skippable(): Step {
    return {
      kind: 'collect',
      n: 4,
      done: (b) => {
        const n = b.readUInt32LE(0);
        this.step = n === 0 ? this.magic() : { kind: 'skip', n, done: () => (this.step = this.magic()) };
      },
    };
  }

  private frameHeader(): Step {
    return {
      kind: 'collect',
      n: 1,
      done: (d) => {
        const fhd = d[0]!;
        if (fhd & 0x08) throw new CorruptLayerError('zstd stream: reserved frame header bit set');
        const singleSegment = (fhd >> 5) & 1;
        const fcsFlag = fhd >> 6;
        this.checksum = ((fhd >> 2) & 1) === 1;
        const dictBytes = [0, 1, 2, 4][fhd & 3]!;
        const fcsBytes = fcsFlag === 0 ? singleSegment : [0, 2, 4, 8][fcsFlag]!;
        const rest = (singleSegment ? 0 : 1) + dictBytes + fcsBytes;
        const parse = (h: Buffer): void => {
          let window: number;
          if (singleSegment) {
            window = readLE(h, dictBytes, fcsBytes) + (fcsFlag === 1 ? 256 : 0);
          } else {
            const wd = h[0]!;
            const base = 2 ** (10 + (wd >> 3));
            window = base + (base / 8) * (wd & 7);
          }
          if (window > this.maxWindow) {
            throw new ScanLimitError('maxZstdWindowBytes', this.maxWindow, `zstd frame window ${window} exceeds the limit`);
          }
          this.step = this.blockHeader();
        };
        if (rest === 0) parse(Buffer.alloc(0));
        else this.step = { kind: 'collect', n: rest, done: parse };
      },
    };
  }

  private blockHeader(): Step {
    return {
      kind: 'collect',
      n: 3,
      done: (b) => {
        const v = b[0]! | (b[1]! << 8) | (b[2]! << 16);
        const last = (v & 1) === 1;
        const type = (v >> 1) & 3;
        const size = v >>> 3;
        if (type === 3) throw new CorruptLayerError('zstd stream: reserved block type');
        if (size > BLOCK_MAX) throw new CorruptLayerError('zstd stream: block larger than 128 KiB');
        const next = (): void => {
          if (!last) this.step = this.blockHeader();
          else if (this.checksum) this.step = { kind: 'skip', n: 4, done: () => (this.step = this.magic()) };
          else this.step = this.magic();
        };
        const n = type === 1 ? 1 : size;
        if (n === 0) next();
        else this.step = { kind: 'skip', n, done: next };
      },
    };
  }
}

function readLE(b: Buffer, off: number, n: number): number {
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + b[off + i]!;
  return v;
}
