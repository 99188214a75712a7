/**
 * AWS Signature Version 4 verification, for the ECR JSON API and the IAM/STS Query API that share
 * Berth's one port. Two steps, because the secret must be looked up in between:
 * `parseAuthorization` reads who claims to have signed (access key, scope, signed headers) from
 * the Authorization header or from presigned X-Amz-* query parameters; `verifySigV4` rebuilds the
 * canonical request from the wire and checks the HMAC. The body is the caller's to read (these
 * APIs have small, buffered bodies); only its sha256 comes in.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { AuthError } from './errors.js';
import {
  amzDate,
  canonicalHeaders,
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  headerValue,
  parseAmzDate,
  parseQuery,
  signingKey,
  stringToSign,
  type HeaderMap,
} from './sigv4-canonical.js';

export { EMPTY_SHA256, sha256Hex, type HeaderMap } from './sigv4-canonical.js';

const ALGORITHM = 'AWS4-HMAC-SHA256';
const DEFAULT_MAX_SKEW_SECONDS = 900;
const MAX_PRESIGNED_EXPIRES_SECONDS = 7 * 24 * 3600;
/** The query parameters of a presigned request's signature. */
const AUTH_PARAMETERS = new Set([
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature',
  'X-Amz-Security-Token',
]);
const MISMATCH_MESSAGE =
  'The request signature we calculated does not match the signature you provided. ' +
  'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

export interface SignedRequestInfo {
  accessKeyId: string;
  /** The request time the client signed. */
  date: Date;
  /** The same time as it appears in the string to sign (YYYYMMDDTHHMMSSZ). */
  amzDate: string;
  /** The credential scope's date (YYYYMMDD). */
  scopeDate: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  securityToken?: string;
  /** True for query-string (presigned) authentication. */
  presigned: boolean;
  /** X-Amz-Expires, presigned requests only. */
  expiresSeconds?: number;
}

export interface AuthorizationSource {
  rawQuery?: string;
  headers: HeaderMap;
}

export interface VerifySigV4Input {
  method: string;
  /** The path exactly as on the request line, still percent-encoded, without the query. */
  path: string;
  /** The query string as on the request line, without `?` (or with; both work). */
  rawQuery: string;
  headers: HeaderMap;
  /** Lowercase hex sha256 of the request body (EMPTY_SHA256 for none). */
  bodySha256Hex: string;
  secretAccessKey: string;
  now: Date;
  maxSkewSeconds?: number;
  expectedService?: string | readonly string[];
  expectedRegion?: string | readonly string[];
  /** False only for S3-style services that sign the path without double encoding. */
  uriEscapePath?: boolean;
  /** Accept `X-Amz-Content-Sha256: UNSIGNED-PAYLOAD` (the body is then not authenticated). */
  allowUnsignedPayload?: boolean;
}

/** Splits a request target (`req.url`) into the raw path and raw query. */
export function splitUrl(url: string): { path: string; rawQuery: string } {
  const q = url.indexOf('?');
  return q < 0 ? { path: url, rawQuery: '' } : { path: url.slice(0, q), rawQuery: url.slice(q + 1) };
}

/** Reads the claimed signer; throws AuthError (MissingAuthentication, IncompleteSignature, InvalidScope). */
export function parseAuthorization(req: AuthorizationSource): SignedRequestInfo {
  const auth = headerValue(req.headers, 'authorization');
  if (Object.entries(req.headers).some(([k, v]) => Array.isArray(v) && v.length > 1 && k.toLowerCase() === 'authorization')) {
    throw new AuthError('IncompleteSignature', 'Only one Authorization header is allowed.');
  }
  const query = new Map<string, string>();
  for (const [k, v] of parseQuery(req.rawQuery ?? '')) {
    // Which one would count is anyone's guess (ours: the first; the signature covers them all).
    if (query.has(k) && AUTH_PARAMETERS.has(k)) throw new AuthError('IncompleteSignature', `Only one '${k}' query parameter is allowed.`);
    query.set(k, v);
  }
  const presigned = query.has('X-Amz-Algorithm');
  if (auth !== undefined && presigned) {
    throw new AuthError('IncompleteSignature', 'Only one auth mechanism allowed: the Authorization header or the X-Amz-Algorithm query parameter.');
  }
  if (presigned) return parsePresigned(query);
  if (auth === undefined || auth.trim() === '') throw new AuthError('MissingAuthentication', 'Missing Authentication Token');
  return parseHeader(auth, req.headers);
}

function parseHeader(auth: string, headers: HeaderMap): SignedRequestInfo {
  const m = /^(\S+)\s+([\s\S]*)$/.exec(auth.trim());
  if (!m || m[1] !== ALGORITHM) {
    // The scheme alone: a header without one may be some other system's bare token.
    throw new AuthError('IncompleteSignature', `Unsupported AWS 'algorithm': '${m?.[1]?.slice(0, 40) ?? ''}'. Expected ${ALGORITHM}.`);
  }
  const params = new Map<string, string>();
  for (const raw of m[2]!.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) {
      throw new AuthError('IncompleteSignature', `'${part.slice(0, 100)}' not a valid key=value pair (missing equal-sign) in Authorization header.`);
    }
    const key = part.slice(0, eq).trim();
    // Two Credentials would leave the key looked up and the key verified to chance.
    if (params.has(key)) throw new AuthError('IncompleteSignature', `Authorization header has more than one '${key.slice(0, 100)}' parameter.`);
    params.set(key, part.slice(eq + 1).trim());
  }
  const missing: string[] = [];
  for (const p of ['Credential', 'Signature', 'SignedHeaders']) {
    if (!params.get(p)) missing.push(`Authorization header requires '${p}' parameter.`);
  }
  const xAmzDate = headerValue(headers, 'x-amz-date');
  const httpDate = headerValue(headers, 'date');
  if (xAmzDate === undefined && httpDate === undefined) {
    missing.push("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  }
  if (missing.length > 0) {
    // AWS echoes the header; its signature, still good for this request at its date, stays out
    // of the message (which the audit trail keeps), and so does the length of a hostile one.
    const shown = auth.replace(/(Signature=)[^,\s]*/g, '$1<redacted>').slice(0, 500);
    throw new AuthError('IncompleteSignature', `${missing.join(' ')} Authorization=${shown}`);
  }

  let date: Date | undefined;
  let signedAmzDate: string;
  if (xAmzDate !== undefined) {
    signedAmzDate = xAmzDate.trim();
    date = parseAmzDate(signedAmzDate);
  } else {
    const t = Date.parse(httpDate!);
    date = Number.isNaN(t) ? undefined : new Date(t);
    signedAmzDate = date ? amzDate(date) : '';
  }
  if (!date) throw new AuthError('IncompleteSignature', `Date must be in ISO-8601 'basic format'. Got '${xAmzDate ?? httpDate}'.`);

  const securityToken = headerValue(headers, 'x-amz-security-token');
  return {
    ...parseCredential(params.get('Credential')!),
    date,
    amzDate: signedAmzDate,
    signedHeaders: parseSignedHeaders(params.get('SignedHeaders')!),
    signature: params.get('Signature')!,
    ...(securityToken !== undefined && { securityToken }),
    presigned: false,
  };
}

function parsePresigned(query: Map<string, string>): SignedRequestInfo {
  const algorithm = query.get('X-Amz-Algorithm');
  if (algorithm !== ALGORITHM) {
    throw new AuthError('IncompleteSignature', `X-Amz-Algorithm only supports '${ALGORITHM}'.`);
  }
  const missing = ['X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-SignedHeaders', 'X-Amz-Date', 'X-Amz-Expires'].filter((p) => !query.get(p));
  if (missing.length > 0) {
    throw new AuthError('IncompleteSignature', missing.map((p) => `AWS query-string parameters must include '${p}'.`).join(' '));
  }
  const signedAmzDate = query.get('X-Amz-Date')!;
  const date = parseAmzDate(signedAmzDate);
  if (!date) throw new AuthError('IncompleteSignature', `X-Amz-Date must be in ISO-8601 'basic format'. Got '${signedAmzDate}'.`);
  const expiresText = query.get('X-Amz-Expires')!;
  const expiresSeconds = /^\d{1,7}$/.test(expiresText) ? Number(expiresText) : NaN;
  if (!(expiresSeconds >= 1 && expiresSeconds <= MAX_PRESIGNED_EXPIRES_SECONDS)) {
    throw new AuthError('IncompleteSignature', `X-Amz-Expires must be between 1 and ${MAX_PRESIGNED_EXPIRES_SECONDS} seconds.`);
  }
  const securityToken = query.get('X-Amz-Security-Token');
  return {
    ...parseCredential(query.get('X-Amz-Credential')!),
    date,
    amzDate: signedAmzDate,
    signedHeaders: parseSignedHeaders(query.get('X-Amz-SignedHeaders')!),
    signature: query.get('X-Amz-Signature')!,
    ...(securityToken !== undefined && { securityToken }),
    presigned: true,
    expiresSeconds,
  };
}

function parseCredential(credential: string): Pick<SignedRequestInfo, 'accessKeyId' | 'scopeDate' | 'region' | 'service'> {
  const parts = credential.split('/');
  if (parts.length !== 5 || parts.some((p) => p === '')) {
    throw new AuthError('IncompleteSignature', `Credential should be of the form <access key>/<date>/<region>/<service>/aws4_request. Got '${credential}'.`);
  }
  const [accessKeyId, scopeDate, region, service, terminator] = parts as [string, string, string, string, string];
  if (terminator !== 'aws4_request') {
    throw new AuthError('InvalidScope', `Credential should be scoped with a valid terminator: 'aws4_request', not '${terminator}'.`);
  }
  return { accessKeyId, scopeDate, region, service };
}

/**
 * Over HTTP/2 the AWS SDKs sign `:authority` (the pseudo-header that replaces Host there), as
 * AWS's own HTTP/2 endpoints accept; no other pseudo-header is signed.
 */
function parseSignedHeaders(list: string): string[] {
  const names = list.split(';');
  if (names.some((n) => n !== ':authority' && !/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(n)) || new Set(names).size !== names.length) {
    throw new AuthError('IncompleteSignature', `SignedHeaders must be a list of distinct lowercase header names separated by ';'. Got '${list}'.`);
  }
  return names;
}

function asList(v: string | readonly string[] | undefined): readonly string[] | undefined {
  return v === undefined ? undefined : typeof v === 'string' ? [v] : v;
}

/**
 * Verifies the request's signature with the signer's secret. Returns what was verified; throws
 * AuthError when the request is not exactly what the holder of `secretAccessKey` signed, at a
 * time within `maxSkewSeconds` of `now` (or before a presigned request's expiry).
 */
export function verifySigV4(input: VerifySigV4Input): SignedRequestInfo {
  const info = parseAuthorization(input);

  const services = asList(input.expectedService);
  if (services && !services.includes(info.service)) {
    throw new AuthError('InvalidScope', `Credential should be scoped to correct service: '${services[0]}'.`);
  }
  const regions = asList(input.expectedRegion);
  if (regions && !regions.includes(info.region)) {
    throw new AuthError('InvalidScope', `Credential should be scoped to a valid region, not '${info.region}'.`);
  }
  if (info.scopeDate !== info.amzDate.slice(0, 8)) {
    throw new AuthError(
      'InvalidScope',
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${info.scopeDate}' != '${info.amzDate.slice(0, 8)}', from '${info.amzDate}'.`,
    );
  }
  requireSignedHeaders(info, input.headers);

  checkTime(info, input.now, input.maxSkewSeconds ?? DEFAULT_MAX_SKEW_SECONDS);

  const expected = signingKeyHmac(input, info);
  const given = /^[0-9a-f]{64}$/.test(info.signature) ? Buffer.from(info.signature, 'hex') : undefined;
  if (!given || !timingSafeEqual(given, expected)) throw new AuthError('SignatureMismatch', MISMATCH_MESSAGE);
  return info;
}

/**
 * Headers that must be covered by the signature, as AWS requires: `host` or h2's `:authority` (else a captured
 * signature replays against another host), the date it was made at, and every `x-amz-*` header
 * sent, since those carry meaning — `x-amz-target` picks the operation, `x-amz-security-token`
 * the session, `x-amz-content-sha256` the body — and an unsigned one could be swapped in transit.
 */
function requireSignedHeaders(info: SignedRequestInfo, headers: HeaderMap): void {
  const signed = new Set(info.signedHeaders);
  if (!signed.has('host') && !signed.has(':authority')) {
    throw new AuthError('SignatureMismatch', "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  const required = new Set<string>();
  if (!info.presigned && headerValue(headers, 'x-amz-date') === undefined) required.add('date');
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    if (lower.startsWith('x-amz-') && headers[name] !== undefined) required.add(lower);
  }
  for (const name of [...required].sort()) {
    if (!signed.has(name)) throw new AuthError('SignatureMismatch', `'${displayName(name)}' must be a 'SignedHeader' in the AWS Authorization.`);
  }
}

/** `x-amz-target` → `X-Amz-Target`, the way AWS names a header in its messages. */
function displayName(lower: string): string {
  return lower.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());
}

function checkTime(info: SignedRequestInfo, now: Date, maxSkewSeconds: number): void {
  const skewMs = maxSkewSeconds * 1000;
  const t = info.date.getTime();
  const n = now.getTime();
  const minutes = `${Math.round(maxSkewSeconds / 60)} min.`;
  if (t - n > skewMs) {
    throw new AuthError(
      'SignatureExpired',
      `Signature not yet current: ${info.amzDate} is still later than ${amzDate(new Date(n + skewMs))} (${amzDate(now)} + ${minutes})`,
    );
  }
  if (info.presigned) {
    if (n > t + info.expiresSeconds! * 1000) throw new AuthError('RequestExpired', 'Request has expired');
  } else if (n - t > skewMs) {
    throw new AuthError(
      'SignatureExpired',
      `Signature expired: ${info.amzDate} is now earlier than ${amzDate(new Date(n - skewMs))} (${amzDate(now)} - ${minutes})`,
    );
  }
}

/** The payload hash that went into the signature, checked against the body we actually got. */
function payloadHash(input: VerifySigV4Input, info: SignedRequestInfo): string {
  let declared: string | undefined;
  if (info.signedHeaders.includes('x-amz-content-sha256')) declared = headerValue(input.headers, 'x-amz-content-sha256')?.trim();
  else if (info.presigned) declared = parseQuery(input.rawQuery).find(([k]) => k.toLowerCase() === 'x-amz-content-sha256')?.[1];
  if (declared === undefined) return input.bodySha256Hex;
  if (declared === 'UNSIGNED-PAYLOAD') {
    if (input.allowUnsignedPayload) return declared;
    throw new AuthError('IncompleteSignature', 'UNSIGNED-PAYLOAD is not accepted by this service; sign the payload.');
  }
  if (declared.toLowerCase() !== input.bodySha256Hex.toLowerCase()) {
    // A signed hash that isn't the body's would authenticate some other body.
    throw new AuthError('SignatureMismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }
  return declared;
}

function signingKeyHmac(input: VerifySigV4Input, info: SignedRequestInfo): Buffer {
  const scope = `${info.scopeDate}/${info.region}/${info.service}/aws4_request`;
  const creq = canonicalRequest({
    method: input.method,
    canonicalUri: canonicalUri(input.path, input.uriEscapePath ?? true),
    canonicalQuery: canonicalQuery(input.rawQuery),
    canonicalHeaders: canonicalHeaders(input.headers, info.signedHeaders),
    signedHeaders: info.signedHeaders,
    payloadHash: payloadHash(input, info),
  });
  const key = signingKey(input.secretAccessKey, info.scopeDate, info.region, info.service);
  return createHmac('sha256', key)
    .update(stringToSign(info.amzDate, scope, creq))
    .digest();
}
