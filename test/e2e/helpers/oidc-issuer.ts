/**
 * A small OIDC issuer on loopback for tests: discovery at `/.well-known/openid-configuration`,
 * its key set at `/jwks`, and tokens signed with keys made by node:crypto (RS256 or ES256).
 * `rotate` replaces the published keys, as an issuer rotating its signing key does.
 */
import { createSign, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: KeyObject;
  jwk: Record<string, unknown>;
}

export function makeKey(alg: 'RS256' | 'ES256'): SigningKey {
  const { privateKey, publicKey } = alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = randomUUID();
  return { kid, alg, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' } };
}

const b64 = (v: object | Buffer) => (Buffer.isBuffer(v) ? v : Buffer.from(JSON.stringify(v))).toString('base64url');

/** A compact JWS over the claims with the key (or with any header and signature, for hostile tokens). */
export function signJwt(key: SigningKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const input = `${b64({ alg: key.alg, typ: 'JWT', kid: key.kid, ...header })}.${b64(claims)}`;
  const sig =
    key.alg === 'RS256'
      ? createSign('sha256').update(input).sign(key.privateKey)
      : sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64(sig)}`;
}

export interface TestIssuer {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** The URL without its scheme: the provider ARN's suffix and the condition keys' prefix. */
  host: string;
  key: SigningKey;
  /** How many times the key set was fetched. */
  jwksFetches(): number;
  /** Publishes a new key (only it), signing from now on with it. */
  rotate(alg: 'RS256' | 'ES256'): SigningKey;
  token(claims: Record<string, unknown>, header?: Record<string, unknown>): string;
  close(): Promise<void>;
}

export async function startIssuer(alg: 'RS256' | 'ES256' = 'RS256'): Promise<TestIssuer> {
  let key = makeKey(alg);
  let fetches = 0;
  let url = '';
  const server: Server = createServer((req, res) => {
    const send = (body: object) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/.well-known/openid-configuration') return send({ issuer: url, jwks_uri: `${url}/jwks` });
    if (req.url === '/jwks') {
      fetches++;
      return send({ keys: [key.jwk] });
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  url = `http://127.0.0.1:${port}`;
  return {
    url,
    host: `127.0.0.1:${port}`,
    get key() {
      return key;
    },
    jwksFetches: () => fetches,
    rotate(next) {
      key = makeKey(next);
      return key;
    },
    token: (claims, header) => signJwt(key, { iss: url, ...claims }, header),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
