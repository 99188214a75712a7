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
 * `next` is the page's last key when more items follow.
 */
export async function slicedPage<T>(
  limit: number,
  after: string | undefined,
  read: (page: Page) => Promise<T[]>,
  key: (item: T) => string,
  shape: (items: T[]) => unknown[] | Promise<unknown[]>,
): Promise<{ list: WireList; next?: string }> {
  const list = new WireList();
  let more = true;
  for (let left = limit; left > 0 && more; left -= SLICE) {
    // Only the page's last slice reads one row past its end, to know whether a next page exists.
    const last = left <= SLICE;
    const want = Math.min(SLICE, left);
    const rows = await read({ ...(after !== undefined && { after }), limit: last ? want + 1 : want });
    more = last ? rows.length > want : rows.length === want;
    const items = rows.length > want ? rows.slice(0, want) : rows;
    if (items.length === 0) break;
    after = key(items[items.length - 1]!);
    list.add(await shape(items));
  }
  return more && after !== undefined ? { list, next: after } : { list };
}
