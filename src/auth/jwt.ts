/**
 * JSON Web Tokens as OIDC issuers sign them (JWS compact form), verified with node:crypto:
 * RS256 and ES256 only; `none`, HMAC and everything else are refused, as is any token that is
 * oversized, not canonical base64url, or not JSON objects. Pure functions; keys come in.
 */
import { createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';

/** STS takes web identity tokens of up to 20000 characters. */
export const MAX_JWT_CHARS = 20000;
export const SUPPORTED_ALGS = ['RS256', 'ES256'] as const;
export type JwsAlg = (typeof SUPPORTED_ALGS)[number];

export class JwtError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JwtError';
  }
}

export interface ParsedJwt {
  header: { alg: JwsAlg; kid?: string };
  claims: Record<string, unknown>;
  signingInput: Buffer;
  signature: Buffer;
}

function part(s: string, what: string): Buffer {
  const b = Buffer.from(s, 'base64url');
  if (s.length === 0 || b.toString('base64url') !== s) throw new JwtError(`the token's ${what} is not base64url`);
  return b;
}

function jsonObject(b: Buffer, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(b.toString('utf8'));
  } catch {
    throw new JwtError(`the token's ${what} is not JSON`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new JwtError(`the token's ${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

/** Splits and decodes a token without trusting it; throws JwtError. */
export function parseJwt(token: string): ParsedJwt {
  if (token.length > MAX_JWT_CHARS) throw new JwtError(`the token exceeds ${MAX_JWT_CHARS} characters`);
  const parts = token.split('.');
  if (parts.length !== 3) throw new JwtError('the token is not a signed JWT (header.payload.signature)');
  const [h, p, sig] = parts as [string, string, string];
  const header = jsonObject(part(h, 'header'), 'header');
  const alg = header.alg;
  if (typeof alg !== 'string' || !(SUPPORTED_ALGS as readonly string[]).includes(alg)) {
    throw new JwtError(`the token's algorithm ${JSON.stringify(alg)?.slice(0, 20)} is not accepted (RS256 or ES256)`);
  }
  if (header.crit !== undefined) throw new JwtError('the token names critical header parameters Berth does not understand');
  if (header.kid !== undefined && typeof header.kid !== 'string') throw new JwtError("the token's kid is not a string");
  return {
    header: { alg: alg as JwsAlg, ...(typeof header.kid === 'string' && { kid: header.kid }) },
    claims: jsonObject(part(p, 'payload'), 'payload'),
    signingInput: Buffer.from(`${h}.${p}`, 'ascii'),
    signature: part(sig, 'signature'),
  };
}

/** A JWK usable for an algorithm, as a key object; undefined when it is not one. */
export function publicKeyFromJwk(jwk: Record<string, unknown>): { key: KeyObject; alg: JwsAlg } | undefined {
  try {
    if (jwk.kty === 'RSA' && typeof jwk.n === 'string' && typeof jwk.e === 'string' && (jwk.alg === undefined || jwk.alg === 'RS256')) {
      const key = createPublicKey({ key: { kty: 'RSA', n: jwk.n, e: jwk.e } as JsonWebKey, format: 'jwk' });
      // Short RSA keys are forgeable; 2048 bits is the floor every issuer meets.
      if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) return undefined;
      return { key, alg: 'RS256' };
    }
    if (jwk.kty === 'EC' && jwk.crv === 'P-256' && typeof jwk.x === 'string' && typeof jwk.y === 'string' && (jwk.alg === undefined || jwk.alg === 'ES256')) {
      return { key: createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y } as JsonWebKey, format: 'jwk' }), alg: 'ES256' };
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** Whether the signature is the key's over the token; the key's algorithm must be the token's. */
export function verifyJwtSignature(jwt: ParsedJwt, key: { key: KeyObject; alg: JwsAlg }): boolean {
  if (key.alg !== jwt.header.alg) return false;
  try {
    if (jwt.header.alg === 'RS256') return verify('sha256', jwt.signingInput, key.key, jwt.signature);
    // JWS carries ECDSA signatures as r||s (64 bytes), not DER.
    return jwt.signature.length === 64 && verify('sha256', jwt.signingInput, { key: key.key, dsaEncoding: 'ieee-p1363' }, jwt.signature);
  } catch {
    return false;
  }
}
