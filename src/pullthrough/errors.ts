/** Refusals of the pull-through cache's rules, by their ECR `__type`; the ECR door renders them. */
import type { WireCode } from '../core/errors.js';

export class PullThroughError extends Error {
  constructor(
    readonly wire: WireCode,
    message: string,
  ) {
    super(message);
    this.name = 'PullThroughError';
  }
}

export const pullThroughError = (wire: WireCode, message: string): PullThroughError => new PullThroughError(wire, message);

export function isPullThroughError(e: unknown): e is PullThroughError {
  return e instanceof PullThroughError;
}
