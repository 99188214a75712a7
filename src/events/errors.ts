/** EventBridge's refusals, by their `__type` (an `EventsCodes` entry); the events door renders them. */
import type { WireCode } from '../core/errors.js';

export class EventsError extends Error {
  constructor(
    readonly wire: WireCode,
    message: string,
  ) {
    super(message);
    this.name = 'EventsError';
  }
}

export const eventsError = (wire: WireCode, message: string): EventsError => new EventsError(wire, message);

export function isEventsError(e: unknown): e is EventsError {
  return e instanceof EventsError;
}
