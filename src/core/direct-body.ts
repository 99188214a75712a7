/**
 * A response body that writes itself. A download opened off the event loop keeps its plaintext
 * in a small ring of shared memory and can reuse a slot only once the destination is done with
 * its bytes, which a pipe never says; so it writes to the destination itself, reusing each slot
 * on the write's callback, and a plain read of it copies each piece out instead (correct, but
 * with an allocation per piece, which is what the data path's collections came from).
 */
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** What a body may know of where `dest` leads, to send its bytes a cheaper way. */
export interface SendTarget {
  /**
   * The fd of the plain TCP socket under `dest` (HTTP/1.1, no TLS), whose response headers
   * `dest` sends with its first write: a body may write to a dup of it once everything `dest`
   * was given is in the kernel, and then ends `dest` with no more bytes (its Content-Length set).
   */
  socketFd?: number;
  /** Told the body bytes that reached the socket without passing through `dest.write`, before `dest` ends. */
  sentPast?(bytes: number): void;
  /** Told, before `dest` is destroyed, that the body gave up on a client taking too little (the response rule's cut). */
  cut?(): void;
}

export interface DirectBody {
  /** Writes every byte to `dest` and ends it; rejects (having destroyed `dest`) if either side fails first. */
  writeTo(dest: Writable, target?: SendTarget): Promise<void>;
}

export function isDirectBody(body: Readable): body is Readable & DirectBody {
  return typeof (body as Partial<DirectBody>).writeTo === 'function';
}

/** Sends `body` to `dest` the cheapest way it offers. */
export function sendBody(body: Readable, dest: Writable, target?: SendTarget): Promise<void> {
  return isDirectBody(body) ? body.writeTo(dest, target) : pipeline(body, dest);
}
