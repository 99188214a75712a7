/**
 * Temporary credentials' session tokens (STS's `SessionToken`, sent as `X-Amz-Security-Token`).
 *
 * Stateless, so any node verifies one without a shared table: the token is the session's facts
 * (access key id, secret, account, who it stands for, expiry, session tags and policy) as JSON,
 * sealed with AES-256-GCM under a key derived from the server key, which every node of a
 * deployment already shares. `v1.<kid>.<iv>.<ciphertext>.<tag>`, base64url parts. The secret
 * inside is what the signature is checked with, so only the holder of the token and the secret
 * STS handed out can sign; the key id lets several server keys verify during a rotation.
 * Nothing can revoke a token early except what it names disappearing: the authenticator checks
 * on use that the role (same role id) or user still exists, so deleting a role ends its sessions.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { derivedKey } from './derived-key.js';
import { AuthError } from './errors.js';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Tokens past this size are refused unread; STS's PackedPolicyTooLarge keeps issued ones under it. */
export const MAX_SESSION_TOKEN_CHARS = 4096;

export interface SessionClaims {
  accessKeyId: string;
  secretAccessKey: string;
  accountId: string;
  expiresAt: Date;
  /**
   * When STS issued the credentials (aws:TokenIssueTime). Tokens sealed before Berth kept it
   * lack it; principalForSession stands in the earliest time such a token can have been issued.
   */
  issuedAt?: Date;
  /**
   * An assumed role's session, or a user's (or root's) GetSessionToken session. A user's names
   * its unique id, so a user made again under the name is not it (tokens sealed before lack it).
   */
  subject:
    | { kind: 'role'; roleName: string; rolePath: string; roleId: string; sessionName: string }
    | { kind: 'user'; userName: string; userPath: string; userId?: string }
    | { kind: 'root' };
  tags?: Record<string, string>;
  /** An inline session policy document. */
  policy?: string;
  /**
   * Managed session policies (AssumeRole's PolicyArns): ARNs, read at each request as the role's
   * own managed policies are (authn.ts), so a token stays small and a policy gone allows nothing.
   */
  policyArns?: string[];
  /**
   * A role session's source identity (AssumeRole's SourceIdentity, or one a chained session
   * carried on): aws:SourceIdentity of its requests, and fixed for every session chained from it.
   */
  sourceIdentity?: string;
  /** The session tags a role session passes on to those chained from it (TransitiveTagKeys, and those it inherited). */
  transitiveTags?: Record<string, string>;
  /** The region (deployment) whose STS issued it; absent from tokens sealed before Berth kept it. */
  region?: string;
}

const PURPOSE = { idLabel: 'berth session-token key id v1', keyLabel: 'berth session-token sealing v1' };
const derive = (serverKey: Buffer) => derivedKey(serverKey, PURPOSE);

const AAD = Buffer.from('berth:session-token:v1');

export function sealSessionToken(claims: SessionClaims, serverKey: Buffer): string {
  const { kid, key } = derive(serverKey);
  const body = JSON.stringify({ ...claims, expiresAt: claims.expiresAt.getTime(), ...(claims.issuedAt && { issuedAt: claims.issuedAt.getTime() }) });
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(AAD);
  const ct = Buffer.concat([cipher.update(body, 'utf8'), cipher.final()]);
  return [VERSION, kid, iv.toString('base64url'), ct.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
}

const invalid = () => new AuthError('UnrecognizedClient', 'The security token included in the request is invalid.');

/** The token's claims; throws AuthError UnrecognizedClient (invalid) or ExpiredToken. */
export function openSessionToken(token: string, opts: { now: Date; keys: readonly Buffer[] }): SessionClaims {
  if (token.length > MAX_SESSION_TOKEN_CHARS) throw invalid();
  const parts = token.split('.');
  if (parts.length !== 5 || parts[0] !== VERSION) throw invalid();
  const [, kid, ivText, ctText, tagText] = parts as [string, string, string, string, string];
  const derived = opts.keys.map(derive).find((k) => k.kid === kid);
  const [iv, ct, tag] = [ivText, ctText, tagText].map((s) => Buffer.from(s, 'base64url'));
  if (!derived || iv!.length !== IV_BYTES || tag!.length !== TAG_BYTES) throw invalid();
  let body: unknown;
  try {
    const decipher = createDecipheriv('aes-256-gcm', derived.key, iv!, { authTagLength: TAG_BYTES });
    decipher.setAAD(AAD);
    decipher.setAuthTag(tag!);
    body = JSON.parse(Buffer.concat([decipher.update(ct!), decipher.final()]).toString('utf8'));
  } catch {
    throw invalid();
  }
  // Authenticated: ours. Checked for shape anyway, as a token from a later version might differ.
  const c = body as Record<string, unknown>;
  const subject = c.subject as SessionClaims['subject'] | undefined;
  if (
    typeof c.accessKeyId !== 'string' ||
    typeof c.secretAccessKey !== 'string' ||
    typeof c.accountId !== 'string' ||
    typeof c.expiresAt !== 'number' ||
    typeof subject !== 'object' ||
    subject === null
  ) {
    throw invalid();
  }
  const expiresAt = new Date(c.expiresAt);
  if (opts.now.getTime() >= c.expiresAt) throw new AuthError('ExpiredToken', 'The security token included in the request is expired');
  return {
    accessKeyId: c.accessKeyId,
    secretAccessKey: c.secretAccessKey,
    accountId: c.accountId,
    expiresAt,
    ...(typeof c.issuedAt === 'number' && { issuedAt: new Date(c.issuedAt) }),
    subject,
    ...(typeof c.tags === 'object' && c.tags !== null && { tags: c.tags as Record<string, string> }),
    ...(typeof c.policy === 'string' && { policy: c.policy }),
    ...(typeof c.sourceIdentity === 'string' && { sourceIdentity: c.sourceIdentity }),
    ...(typeof c.transitiveTags === 'object' && c.transitiveTags !== null && { transitiveTags: c.transitiveTags as Record<string, string> }),
    ...(Array.isArray(c.policyArns) && { policyArns: c.policyArns.filter((a): a is string => typeof a === 'string') }),
    ...(typeof c.region === 'string' && { region: c.region }),
  };
}
