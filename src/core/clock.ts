/** The only way code reads time; tests and the composition root pass one in. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
