/**
 * A Berth node's proof, on a KMS request it sends another Berth (kmsProvider 'aws'), that the
 * request is its ECR service's own. AWS sets `kms:ViaService` when a service calls KMS for a
 * principal, and an AWS managed key's key policy allows its use only that way: so a user may not
 * Encrypt or Decrypt under `aws/ecr` directly, while ECR may. Between Berth deployments the only
 * trust is the server key they share (design decision 8), so the proof is an HMAC under a key
 * derived from it with its own label: a login or replication token never passes for one.
 *
 * Header `x-berth-via-service: v1.<kid>.<claims>.<mac>`; the claims (the service, the KMS region,
 * the operation, the SHA-256 of the request body, an expiry) bind it to the one request it came
 * with, for a few minutes. The request's SigV4 signature still says who the caller is; this only
 * says which service the caller came through.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { derivedKey } from './derived-key.js';

export const VIA_SERVICE_HEADER = 'x-berth-via-service';
const VERSION = 'v1';
const TTL_MS = 5 * 60 * 1000;
const MAX_CHARS = 1024;

export interface ViaServiceRequest {
  /** The KMS operation (`GenerateDataKey`). */
  operation: string;
  /** The KMS region the request is for. */
  region: string;
  /** The request's body, as sent. */
  body: string | Uint8Array;
}

const PURPOSE = { idLabel: 'berth via-service key id v1', keyLabel: 'berth via-service mac v1' };
const derive = (serverKey: Buffer) => derivedKey(serverKey, PURPOSE);

const mac = (key: Buffer, signed: string) => createHmac('sha256', key).update(signed).digest('base64url');
const bodyHash = (body: string | Uint8Array) => createHash('sha256').update(body).digest('base64url');

/** The header value saying `req` comes through `service` (`ecr`). */
export function viaServiceProof(service: string, req: ViaServiceRequest, opts: { now: Date; key: Buffer }): string {
  const { kid, key: macKey } = derive(opts.key);
  const claims = { s: service, r: req.region, o: req.operation, h: bodyHash(req.body), e: opts.now.getTime() + TTL_MS };
  const signed = `${VERSION}.${kid}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${signed}.${mac(macKey, signed)}`;
}

/**
 * The service a request came through, when `header` proves it for this very request under one
 * of `keys` and has not expired; undefined otherwise (the request is then taken as a direct one).
 */
export function verifyViaService(header: string | undefined, req: ViaServiceRequest, opts: { now: Date; keys: readonly Buffer[] }): string | undefined {
  if (header === undefined || header.length > MAX_CHARS) return undefined;
  const parts = header.split('.');
  if (parts.length !== 4 || parts[0] !== VERSION) return undefined;
  const [, kid, body, given] = parts as [string, string, string, string];
  const key = opts.keys.map(derive).find((k) => k.kid === kid);
  if (!key) return undefined;
  const expected = Buffer.from(mac(key.key, `${VERSION}.${kid}.${body}`));
  const actual = Buffer.from(given);
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return undefined;
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof c.s !== 'string' || !/^[a-z0-9-]{1,64}$/.test(c.s)) return undefined;
  if (c.r !== req.region || c.o !== req.operation || c.h !== bodyHash(req.body)) return undefined;
  if (typeof c.e !== 'number' || opts.now.getTime() >= c.e) return undefined;
  return c.s;
}
