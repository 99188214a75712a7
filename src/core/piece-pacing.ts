/**
 * A request body's pacing, taken over by its consumer. The body pacer (http/body-pacing.ts)
 * counts what every body delivers by wrapping its `emit`, which costs a call and an argument copy
 * on every event of the body. A consumer that reads the pieces in a 'data' listener of its own
 * (encrypted/piece-drive.ts) can count them there instead, in the same call: it claims the
 * pacing before it listens, the wrapper is taken off, and it reports each piece itself.
 */

/** Reports a piece handled: its size as delivered and what of it is still allocated after. */
export type Spend = (bytes: number, left: number) => void;

const offers = new WeakMap<object, () => Spend>();

/** Lets the one consumer of `stream` take over its pacing (`claim` gives it the spend hook). */
export function offerPacing(stream: object, claim: () => Spend): void {
  offers.set(stream, claim);
}

/**
 * Takes over `stream`'s pacing, if offered: the caller must then report every piece it is given
 * through the returned hook, right after handling it. Undefined when there is none to take.
 */
export function claimPacing(stream: object): Spend | undefined {
  const claim = offers.get(stream);
  if (!claim) return undefined;
  offers.delete(stream);
  return claim();
}
