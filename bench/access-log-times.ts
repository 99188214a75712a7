/**
 * The server's own time for requests the bench made, from Berth's access log (`BERTH_ACCESS_LOG`,
 * JSON lines with `requestId` and `ms`), matched by the id Berth answers in `x-amzn-RequestId`.
 * The log is written asynchronously in batches (README "Access log": a line shows within half a
 * second on a quiet server), so a reader waits for the ids it wants, up to a cap, and reads only
 * what was appended since its last read (the log grows by a line per seeded manifest).
 */
import { open, stat } from 'node:fs/promises';

/** The header Berth echoes each request's id in, on /v2 and ECR JSON answers alike. */
export const REQUEST_ID_HEADER = 'x-amzn-requestid';

/**
 * `ms` of each wanted id found in `text` (access-log lines). A line cut short by a read that
 * ended mid-write, or any line that is not the access log's JSON, is skipped.
 */
export function requestTimes(text: string, wanted: ReadonlySet<string>): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.includes('"requestId"')) continue;
    let entry: { requestId?: unknown; ms?: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    if (typeof entry.requestId === 'string' && typeof entry.ms === 'number' && wanted.has(entry.requestId)) out.set(entry.requestId, entry.ms);
  }
  return out;
}

export class AccessLogTimes {
  /** Bytes of the log already read up to the last complete line. */
  private offset = 0;

  constructor(readonly path: string) {}

  /** Skips what the log holds now (the seeding's lines): later reads start here. */
  async skipToEnd(): Promise<void> {
    this.offset = (await stat(this.path).catch(() => ({ size: 0 }))).size;
  }

  /**
   * The server's ms for each id, waiting up to `capMs` for all of them to be written; an id not
   * logged by then is missing from the map (the caller says "server ?").
   */
  async times(ids: readonly string[], capMs = 5000): Promise<Map<string, number>> {
    const wanted = new Set(ids);
    const found = new Map<string, number>();
    const deadline = performance.now() + capMs;
    for (;;) {
      for (const [id, ms] of requestTimes(await this.readNew(), wanted)) found.set(id, ms);
      if (found.size >= wanted.size || performance.now() > deadline) return found;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The complete lines appended since the last read. */
  private async readNew(): Promise<string> {
    const f = await open(this.path, 'r').catch(() => undefined);
    if (!f) return '';
    try {
      const { size } = await f.stat();
      if (size <= this.offset) return '';
      const buf = Buffer.alloc(size - this.offset);
      const { bytesRead } = await f.read(buf, 0, buf.length, this.offset);
      // Up to the last complete line: the rest is read again once its newline is written.
      const end = buf.subarray(0, bytesRead).lastIndexOf(10) + 1;
      this.offset += end;
      return buf.subarray(0, end).toString('utf8');
    } finally {
      await f.close();
    }
  }
}
