/**
 * Request bodies take turns with everything else on the event loop. Each body byte costs the
 * main thread work as it is consumed (counting, hashing hand-off, staging, writes), and Node
 * hands a handler every chunk its socket has ready in the same turn of the loop: with a hundred
 * uploads streaming, one turn did a hundred sockets' worth of body work before the loop could
 * accept a connection or read a waiting manifest GET, and a new connection needs a few turns
 * (accepted, read, answered). Measured under 100 uploads at 1 MB/s on the 2-core machine, a
 * GET on a fresh connection waited 1.2 s to be accepted and 0.8 s more to be read, while no
 * single stall exceeded 0.35 s.
 *
 * So the bytes all bodies may deliver to their consumers are counted, and once a budget is spent
 * every flowing body is paused; they all resume, with the budget renewed, in the check phase of
 * the *next* turn, after that turn's poll phase has accepted connections and read other
 * requests. No turn then does more than about twice the budget of body work. Paused bodies buffer up to their high-water mark, then Node stops
 * reading their sockets and TCP slows the senders: throughput is shared, not lost, since the
 * main thread was the bottleneck anyway. Only HTTP/1.1 bodies consumed in flowing mode (piped)
 * are paced; h2 streams have their own flow control per stream.
 */
import type { IncomingMessage } from 'node:http';
import { offerPacing } from '../core/piece-pacing.js';
import { BodyGarbage } from './body-garbage.js';
import { holdSocketWithBody } from './body-socket-hold.js';
import { hasBody, isHttp2 } from './request.js';

/**
 * About 10 ms of the main thread's work per MiB of upload (2026-12 profile). A turn may spend it
 * twice: in its poll phase, and in its check phase where the held bodies resume.
 */
export const DEFAULT_BODY_BYTES_PER_TURN = 1024 * 1024;

export class BodyPacer {
  private spent = 0;
  /** Bodies being received, so that all of them can be held once the budget is spent. */
  private readonly active = new Set<IncomingMessage>();
  private readonly held = new Set<IncomingMessage>();
  private resumeArmed = false;

  constructor(
    private readonly bytesPerTurn = DEFAULT_BODY_BYTES_PER_TURN,
    private readonly garbage = new BodyGarbage(),
  ) {}

  /** Counts what the request's body delivers to its consumer, pausing it when the turn's budget is spent. */
  pace(req: IncomingMessage): void {
    if (isHttp2(req) || !hasBody(req) || req.complete) return;
    this.active.add(req);
    holdSocketWithBody(req);
    const emit = req.emit;
    // Counted after the consumer has handled the chunk: 'data' listeners run synchronously. Its
    // size is taken first: a consumer may have released it (core/fresh-pieces.ts), and then it
    // is no garbage for the scavenges either.
    const paced = ((event: string | symbol, ...args: unknown[]): boolean => {
      if (event !== 'data') {
        const handled = emit.call(req, event, ...args);
        if (event === 'end' || event === 'close') this.forget(req);
        return handled;
      }
      const piece = args[0] as Uint8Array;
      const bytes = piece.byteLength;
      const handled = emit.call(req, event, ...args);
      this.spend(bytes, piece.byteLength);
      return handled;
    }) as typeof req.emit;
    req.emit = paced;
    // A consumer that counts its pieces itself (core/piece-pacing.ts) spares every piece the wrapper.
    offerPacing(req, () => {
      if (req.emit === paced) req.emit = emit;
      const forget = (): void => this.forget(req);
      req.once('end', forget).once('close', forget);
      return (bytes, left) => this.spend(bytes, left);
    });
  }

  /** Bodies paused now, waiting for the next turn (for tests and diagnostics). */
  get waiting(): number {
    return this.held.size;
  }

  private forget(req: IncomingMessage): void {
    this.active.delete(req);
    this.held.delete(req);
  }

  /**
   * Once the budget is spent every flowing body is held, not only the one that spent it (each
   * would deliver a chunk more). Nothing is scheduled until then: a reset armed on every chunk
   * would keep an immediate pending, and the loop would spin through its poll phase without
   * ever sleeping (measured: twice the CPU per GiB of a lone upload).
   */
  private spend(bytes: number, left: number): void {
    this.garbage.delivered(left);
    this.spent += bytes;
    if (this.spent < this.bytesPerTurn) return;
    for (const r of this.active) {
      if (r.readableFlowing !== true || this.held.has(r)) continue;
      r.pause();
      this.held.add(r);
    }
    this.armReset();
  }

  /**
   * setImmediate runs in this turn's check phase, after its poll; one set from there runs in the
   * next turn's check phase, after the next poll: the budget is renewed and the held bodies go
   * on only once the loop has looked at every other socket.
   */
  private armReset(): void {
    if (this.resumeArmed) return;
    this.resumeArmed = true;
    setImmediate(() =>
      setImmediate(() => {
        this.resumeArmed = false;
        this.spent = 0;
        const held = [...this.held];
        this.held.clear();
        for (const r of held) if (!r.destroyed && r.readableFlowing === false) r.resume();
      }),
    );
  }
}
