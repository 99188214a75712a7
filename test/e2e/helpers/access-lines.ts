/**
 * The access log (BERTH_ACCESS_LOG) read back by a client test: what the client asked and what
 * Berth answered. Lines are written as responses end, a little after the client sees them, so a
 * test waits for the line that ends what it did rather than reading at once; and a mark (where a
 * test's own lines begin) is a sentinel request's line, so the previous step's last lines, which
 * may be written after the client saw their answers, fall before it rather than after.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { waitFor } from './wait-for.js';

/** One access-log line, as Berth writes it. */
export interface Access {
  method: string;
  path: string;
  status: number;
  principal: string;
  operation?: string;
  deniedAction?: string;
}

export interface AccessLog {
  /** Every line so far. */
  lines(): Promise<Access[]>;
  /**
   * Where a test's own requests begin. With the server's URL, one past the line of a sentinel
   * request sent now: every request answered before it (its line written when its response
   * closed, before the sentinel's) is before the mark, whenever its line was written. Without
   * one, how many lines there are now (a line still to come for an earlier request lands after).
   */
  mark(): Promise<number>;
  /**
   * The lines for `/v2/<prefix>...` after the first `from`, once `done` holds for them (only the
   * test's own repositories: the previous test's last lines may still come after its mark).
   */
  since(from: number, prefix: string, done: (lines: Access[]) => boolean): Promise<Access[]>;
}

/** The path of a sentinel request: a plain GET of `/v2/` (401 without credentials) that no test's prefix matches. */
const SENTINEL = '/v2/?access-log-mark=';

/** The access log at `path` of the server at `url` (its mark is then a sentinel request's line). */
export function accessLog(path: string, url?: string): AccessLog {
  // Only whole lines: a read may land while the server is writing one (a line ends with its '\n').
  const lines = async (): Promise<Access[]> => {
    const text = await readFile(path, 'utf8').catch(() => '');
    return text
      .slice(0, text.lastIndexOf('\n') + 1)
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Access);
  };
  const sentinel = async (server: string): Promise<number> => {
    const sent = `${SENTINEL}${randomUUID()}`;
    await (await fetch(new URL(sent, server))).arrayBuffer();
    return waitFor(`the access log's mark ${sent}`, async () => {
      const at = (await lines()).findIndex((l) => l.path === sent);
      return at >= 0 && at + 1;
    });
  };
  return {
    lines,
    mark: async () => (url === undefined ? (await lines()).length : sentinel(url)),
    since: (from, prefix, done) =>
      waitFor(`the requests for /v2/${prefix} in the access log`, async () => {
        const mine = (await lines()).slice(from).filter((l) => l.path.startsWith(`/v2/${prefix}`));
        return done(mine) && mine;
      }),
  };
}

/**
 * Only a login challenge (401 to an anonymous request) may be refused, and in a push the HEADs
 * of blobs not there yet: what a client's pull or push that worked may show.
 */
export function assertOnlyChallenges(lines: Access[]): void {
  for (const l of lines) {
    if (l.status < 400 || (l.method === 'HEAD' && l.status === 404 && l.principal !== 'anonymous')) continue;
    assert.deepEqual([l.status, l.principal], [401, 'anonymous'], `${l.method} ${l.path}`);
  }
}

/** True once every one of `digests` was answered to a GET of `/v2/<repo>/blobs/<digest>`. */
export const fetchedAll = (repo: string, digests: string[]) => (lines: Access[]) =>
  digests.every((d) => lines.some((l) => l.method === 'GET' && l.status === 200 && l.path === `/v2/${repo}/blobs/${d}`));
