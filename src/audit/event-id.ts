/**
 * CloudTrail event ids: UUIDs, here of version 7 (RFC 9562), whose first 48 bits are the Unix
 * time in milliseconds. The trail's store keeps a unique index on the id; random (version 4) ids
 * land all over that index, so at tens of millions of rows each insert touches a cold page, while
 * time-ordered ids append at its end like the time index does (measured on SQLite, 300,000 rows:
 * about 30 µs of CPU per row against 41). Still 74 random bits per id, so ids stay unguessable
 * and unique across nodes.
 */
import { randomFillSync } from 'node:crypto';

const POOL_IDS = 256;
/** Random bytes for POOL_IDS ids (10 each), refilled when spent: one syscall per 256 ids. */
const pool = Buffer.alloc(POOL_IDS * 10);
let next = POOL_IDS;
const id = Buffer.alloc(16);

export function timeOrderedUuid(at: Date): string {
  if (next === POOL_IDS) {
    randomFillSync(pool);
    next = 0;
  }
  id.writeUIntBE(Math.max(0, Math.min(at.getTime(), 2 ** 48 - 1)), 0, 6);
  pool.copy(id, 6, next * 10, next * 10 + 10);
  next++;
  id[6] = (id[6]! & 0x0f) | 0x70;
  id[8] = (id[8]! & 0x3f) | 0x80;
  const h = id.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * A batch's id: a time-ordered UUID whose last four hex digits are zero. The event id of the
 * batch's call i is the batch id with i in those digits, so no id is drawn per call on the event
 * loop, a retried batch keeps its calls' ids, and an event id names the batch to read. 58 random
 * bits remain per batch.
 */
export function batchIdAt(at: Date): string {
  return `${timeOrderedUuid(at).slice(0, 32)}0000`;
}

/** At most this many calls a batch (four hex digits). */
export const MAX_BATCH_CALLS = 0x10000;

export function eventIdOf(batchId: string, index: number): string {
  return batchId.slice(0, 32) + index.toString(16).padStart(4, '0');
}

const EVENT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The batch an event id names and the call's index in it; undefined for an id not of that shape (carried-over rows' ids may be any). */
export function batchOfEventId(eventId: string): { batchId: string; index: number } | undefined {
  if (!EVENT_ID.test(eventId)) return undefined;
  return { batchId: `${eventId.slice(0, 32)}0000`, index: Number.parseInt(eventId.slice(32), 16) };
}
