/**
 * A listing page read and written a slice at a time (WireList), so that no slice's objects live
 * while the next is built: built whole, a 1,000-item page outlives several scavenges of the small
 * young generation (cli/main.ts) and is promoted, and the old generation's collections then land
 * in later pages (wire-json.ts says more). The slices are the pages a client asking for SLICE at
 * a time would walk one after another, so the answer is the same.
 */
import type { Page } from '../../metadata/types.js';
import { WireList } from './wire-json.js';

/** Items of a listing page read, described and written together. */
export const SLICE = 100;

/**
 * `read` returns items in key order after `page.after`; `key` is an item's place in that order.
 * `next` is the page's last key when more items follow. The next slice's read is in flight while
 * this one is shaped: on PostgreSQL each is a round trip, and so are the shape's own reads
 * (DescribeImages' scans), which would otherwise wait for each other slice after slice.
 */
export async function slicedPage<T>(
  limit: number,
  after: string | undefined,
  read: (page: Page) => Promise<T[]>,
  key: (item: T) => string,
  shape: (items: T[]) => unknown[] | Promise<unknown[]>,
  /** The shapes hold no Date, null or undefined member (WireList.add). */
  inWireForm = false,
): Promise<{ list: WireList; next?: string }> {
  const list = new WireList();
  const readSlice = (left: number, from: string | undefined) => {
    // Only the page's last slice reads one row past its end, to know whether a next page exists.
    const last = left <= SLICE;
    const want = Math.min(SLICE, left);
    return read({ ...(from !== undefined && { after: from }), limit: last ? want + 1 : want }).then((rows) => ({ rows, want, last }));
  };
  let pending: ReturnType<typeof readSlice> | undefined = readSlice(limit, after);
  let more = true;
  for (let left = limit; pending !== undefined; left -= SLICE) {
    const { rows, want, last } = await pending;
    pending = undefined;
    more = last ? rows.length > want : rows.length === want;
    const items = rows.length > want ? rows.slice(0, want) : rows;
    if (items.length === 0) break;
    after = key(items[items.length - 1]!);
    if (more && !last) {
      pending = readSlice(left - SLICE, after);
      // Awaited on the next turn; if shaping this slice throws first, its failure is not unhandled.
      pending.catch(() => undefined);
    }
    list.add(await shape(items), inWireForm);
  }
  return more && after !== undefined ? { list, next: after } : { list };
}
