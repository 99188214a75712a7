/** Refusals of the secrets domain, by their wire `__type`; the doors render them in their own protocol. */
import type { WireCode } from '../core/errors.js';

export class SecretsError extends Error {
  constructor(
    readonly wire: WireCode,
    message: string,
  ) {
    super(message);
    this.name = 'SecretsError';
  }
}

export const secretsError = (wire: WireCode, message: string): SecretsError => new SecretsError(wire, message);

export function isSecretsError(e: unknown): e is SecretsError {
  return e instanceof SecretsError;
}
