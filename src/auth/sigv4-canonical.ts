/**
 * The pieces of a SigV4 canonical request, rebuilt from the request as it arrived on the wire
 * (raw path, raw query string, header map). They must reproduce byte for byte what the client's
 * signer built from its own, pre-serialisation view of the request, so each function follows the
 * AWS SigV4 spec and cross-checks against the behaviour of @smithy/signature-v4 and botocore.
 */
import { createHash, createHmac } from 'node:crypto';

export type HeaderMap = Record<string, string | string[] | undefined>;

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** RFC 3986 escaping: everything but A-Z a-z 0-9 - _ . ~ is percent-encoded (uppercase hex). */
export function uriEscape(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

/**
 * The canonical URI. For every service but S3 the path is normalised (empty, `.` and `..`
 * segments removed, as botocore and smithy do) and then escaped once more on top of the
 * encoding it already has on the wire: the "double encoding" of the spec, because clients sign
 * their already-encoded path. With `uriEscapePath: false` (S3 style) the wire path is used as is.
 */
export function canonicalUri(rawPath: string, uriEscapePath = true): string {
  const path = rawPath === '' ? '/' : rawPath;
  if (!uriEscapePath) return path;
  const segments: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') segments.pop();
    else segments.push(seg);
  }
  const lead = path.startsWith('/') ? '/' : '';
  const trail = segments.length > 0 && path.endsWith('/') ? '/' : '';
  return lead + segments.map(uriEscape).join('/') + trail;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    // A malformed escape can't have come from a signer that encoded it; keep the bytes as sent
    // so the signature simply fails to match instead of throwing something unexpected.
    return s;
  }
}

/** Decoded query parameters in wire order; `+` is a literal plus (SigV4 encodes spaces as %20). */
export function parseQuery(rawQuery: string): Array<[string, string]> {
  const q = rawQuery.startsWith('?') ? rawQuery.slice(1) : rawQuery;
  const out: Array<[string, string]> = [];
  for (const part of q.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? '' : part.slice(eq + 1);
    out.push([safeDecode(k), safeDecode(v)]);
  }
  return out;
}

/**
 * The canonical query string: every parameter but X-Amz-Signature, re-encoded strictly, sorted
 * by encoded name then encoded value (byte order; the encoded strings are ASCII).
 */
export function canonicalQuery(rawQuery: string): string {
  const pairs = parseQuery(rawQuery)
    .filter(([k]) => k.toLowerCase() !== 'x-amz-signature')
    .map(([k, v]) => [uriEscape(k), uriEscape(v)] as const);
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** Header lookup by lowercase name; repeated headers are joined with commas, as the spec says. */
export function headerValue(headers: HeaderMap, name: string): string | undefined {
  let found: string[] | undefined;
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || k.toLowerCase() !== name) continue;
    (found ??= []).push(...(Array.isArray(v) ? v : [v]));
  }
  return found?.join(',');
}

/** Trimmed, with runs of whitespace collapsed to one space. */
export function canonicalHeaderValue(v: string): string {
  return v.replace(/[ \t\r\n]+/g, ' ').replace(/^ | $/g, '');
}

/**
 * `name:value\n` for exactly the signed headers, in the order signed. The headers are indexed
 * by lowercase name once: a lookup per signed name would cost signed names × headers, which a
 * hostile request of a few KiB makes a second of CPU.
 */
export function canonicalHeaders(headers: HeaderMap, signedHeaders: readonly string[]): string {
  const byName = new Map<string, string[]>();
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    const name = k.toLowerCase();
    const list = byName.get(name);
    if (list) list.push(...(Array.isArray(v) ? v : [v]));
    else byName.set(name, Array.isArray(v) ? [...v] : [v]);
  }
  return signedHeaders.map((name) => `${name}:${canonicalHeaderValue(byName.get(name)?.join(',') ?? '')}\n`).join('');
}

export function canonicalRequest(parts: {
  method: string;
  canonicalUri: string;
  canonicalQuery: string;
  canonicalHeaders: string;
  signedHeaders: readonly string[];
  payloadHash: string;
}): string {
  return [parts.method.toUpperCase(), parts.canonicalUri, parts.canonicalQuery, parts.canonicalHeaders, parts.signedHeaders.join(';'), parts.payloadHash].join(
    '\n',
  );
}

export function stringToSign(amzDate: string, scope: string, canonicalRequestText: string): string {
  return ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequestText)].join('\n');
}

export function signingKey(secret: string, shortDate: string, region: string, service: string): Buffer {
  let key = createHmac('sha256', 'AWS4' + secret)
    .update(shortDate)
    .digest();
  for (const part of [region, service, 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  return key;
}

/** `YYYYMMDDTHHMMSSZ`, the X-Amz-Date format. */
export function amzDate(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** Parses X-Amz-Date's basic ISO 8601 form; undefined when malformed. */
export function parseAmzDate(s: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, se] = m.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, se));
  // Reject rollovers such as month 13 or second 61.
  return amzDate(date) === s ? date : undefined;
}
