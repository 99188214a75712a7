/**
 * The replication credential: what a source region presents to a destination deployment's /v2
 * to push one repository's images there. Peer deployments share the server key, and that is the
 * whole trust between them: no user or access key exists at the destination for replication
 * (as ECR's service-linked role needs none).
 *
 * `r1.<kid>.<claims>.<mac>`: claims (source account and region, destination account and region,
 * repository, expiry) in clear, authenticated by HMAC-SHA256 under a key derived from the server
 * key with its own label, so a login token can never pass for a replication token or the reverse.
 * It is short-lived and names one repository of one destination registry; the destination still
 * decides by its own policies (ecr:ReplicateImage, ecr:CreateRepository) whether to accept it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { derivedKey } from './derived-key.js';
import { AuthError } from './errors.js';

const VERSION = 'r1';
const MAX_TOKEN_CHARS = 4096;
export const REPLICATION_TOKEN_TTL_SECONDS = 15 * 60;

export interface ReplicationClaims {
  sourceAccountId: string;
  sourceRegion: string;
  destinationAccountId: string;
  destinationRegion: string;
  repository: string;
  expiresAt: Date;
}

const PURPOSE = { idLabel: 'berth replication-token key id v1', keyLabel: 'berth replication-token mac v1' };
const derive = (serverKey: Buffer) => derivedKey(serverKey, PURPOSE);

const mac = (key: Buffer, signed: string) => createHmac('sha256', key).update(signed).digest('base64url');

/** Whether a /v2 password is a replication token (rather than a login token). */
export function isReplicationToken(password: string): boolean {
  return password.startsWith(`${VERSION}.`);
}

export function issueReplicationToken(claims: Omit<ReplicationClaims, 'expiresAt'>, opts: { now: Date; key: Buffer; ttlSeconds?: number }): string {
  const expiresAt = opts.now.getTime() + (opts.ttlSeconds ?? REPLICATION_TOKEN_TTL_SECONDS) * 1000;
  const { kid, key: macKey } = derive(opts.key);
  const body = Buffer.from(
    JSON.stringify({
      sa: claims.sourceAccountId,
      sr: claims.sourceRegion,
      da: claims.destinationAccountId,
      dr: claims.destinationRegion,
      n: claims.repository,
      e: expiresAt,
    }),
  ).toString('base64url');
  const signed = `${VERSION}.${kid}.${body}`;
  return `${signed}.${mac(macKey, signed)}`;
}

const invalid = () => new AuthError('InvalidLoginToken', 'Your authorization token is invalid.');

/** The claims of a valid, unexpired token; throws AuthError otherwise. */
export function verifyReplicationToken(token: string, opts: { now: Date; keys: readonly Buffer[] }): ReplicationClaims {
  if (token.length > MAX_TOKEN_CHARS) throw invalid();
  const parts = token.split('.');
  if (parts.length !== 4 || parts[0] !== VERSION) throw invalid();
  const [, kid, body, given] = parts as [string, string, string, string];
  const key = opts.keys.map(derive).find((k) => k.kid === kid);
  if (!key) throw invalid();
  const expected = Buffer.from(mac(key.key, `${VERSION}.${kid}.${body}`));
  const actual = Buffer.from(given);
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) throw invalid();
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw invalid();
  }
  const text = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined);
  const [sa, sr, da, dr, n] = [text(c.sa), text(c.sr), text(c.da), text(c.dr), text(c.n)];
  const e = c.e;
  if (!sa || !sr || !da || !dr || !n || typeof e !== 'number' || !Number.isSafeInteger(e)) throw invalid();
  if (opts.now.getTime() >= e) throw new AuthError('ExpiredLoginToken', 'Your replication token has expired.');
  return { sourceAccountId: sa, sourceRegion: sr, destinationAccountId: da, destinationRegion: dr, repository: n, expiresAt: new Date(e) };
}
