/**
 * Pull-style reads over a chunk stream: exact reads for headers, pass-through for bodies, and
 * skips that never copy. The tar parser needs this shape; stream events would force it to
 * buffer whole entries.
 */
import { CorruptLayerError } from './errors.js';

export class ByteReader {
  private cur: Buffer = Buffer.alloc(0);
  private off = 0;
  private done = false;
  /** Bytes handed out or skipped so far: the tar offset, for error messages. */
  position = 0;

  constructor(private readonly it: AsyncIterator<Buffer>) {}

  private async fill(): Promise<boolean> {
    while (this.off >= this.cur.length) {
      if (this.done) return false;
      const r = await this.it.next();
      if (r.done) {
        this.done = true;
        return false;
      }
      this.cur = r.value;
      this.off = 0;
    }
    return true;
  }

  /** Exactly n bytes; undefined when the stream ends before the first byte; throws if it ends mid-way. */
  async readExact(n: number, what: string): Promise<Buffer | undefined> {
    if (!(await this.fill())) return undefined;
    if (this.cur.length - this.off >= n) {
      const b = this.cur.subarray(this.off, this.off + n);
      this.off += n;
      this.position += n;
      return b;
    }
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      if (!(await this.fill())) throw new CorruptLayerError(`layer truncated inside ${what} at byte ${this.position}`);
      const take = Math.min(n - got, this.cur.length - this.off);
      this.cur.copy(out, got, this.off, this.off + take);
      this.off += take;
      got += take;
      this.position += take;
    }
    return out;
  }

  /** Yields the next n bytes as views into the stream's own chunks. */
  async *pieces(n: number, what: string): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (!(await this.fill())) throw new CorruptLayerError(`layer truncated inside ${what} at byte ${this.position}`);
      const take = Math.min(left, this.cur.length - this.off);
      const b = this.cur.subarray(this.off, this.off + take);
      this.off += take;
      left -= take;
      this.position += take;
      yield b;
    }
  }

  async skip(n: number, what: string): Promise<void> {
    for await (const _ of this.pieces(n, what)) {
      // Discarded: this is the "streamed through" path for everything nobody asked for.
    }
  }
}
