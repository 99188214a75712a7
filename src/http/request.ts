/** Small request-parsing helpers shared by the handlers. */
import type { IncomingMessage } from 'node:http';
import { constants, type Http2ServerRequest } from 'node:http2';
import { Codes, RegistryError } from '../core/errors.js';

/** Reads a small body (manifests) into memory, refusing more than `limit` bytes as they arrive. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    throw new RegistryError(Codes.ManifestTooLarge, `body exceeds ${limit} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new RegistryError(Codes.ManifestTooLarge, `body exceeds ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** Whether the request came over TLS (aws:SecureTransport): its socket is a TLSSocket (an h2 request's is its session's). */
export function cameOverTls(req: IncomingMessage): boolean {
  return 'encrypted' in req.socket && req.socket.encrypted === true;
}

/**
 * The scheme clients reach this server by, for URLs Berth hands out (a token realm, a proxy
 * endpoint, a logo URL): https when the request came over TLS or a proxy in front says it did.
 * The forwarded header can only upgrade: a client that lies gets URLs that do not work for it,
 * while a realm left at http behind a TLS proxy would send credentials in the clear.
 */
export function externalScheme(req: IncomingMessage): 'https' | 'http' {
  if (cameOverTls(req)) return 'https';
  const forwarded = req.headers['x-forwarded-proto'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim().toLowerCase();
  return first === 'https' ? 'https' : 'http';
}

/** An h2 request, through Node's compatibility layer (which stands in for IncomingMessage). */
export function isHttp2(req: IncomingMessage): req is IncomingMessage & Pick<Http2ServerRequest, 'stream' | 'authority'> {
  return req.httpVersionMajor === 2;
}

/**
 * True when the request has a body to read: Content-Length > 0, or chunked on HTTP/1.1; on h2,
 * which has no chunked encoding, a body without Content-Length is announced by the request's
 * HEADERS frame not ending the stream.
 */
export function hasBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  if (len !== undefined) return Number(len) > 0;
  if (isHttp2(req)) return !req.stream.endAfterHeaders;
  return req.headers['transfer-encoding'] !== undefined;
}

/**
 * h2 carries the host as `:authority`, and clients (Go's, curl) send no Host header: it is set
 * from `:authority` so that SigV4's signed `host`, the realm and repository URIs read one place.
 * Both present and different is a malformed request (RFC 9113 §8.3.1).
 */
export function adoptAuthority(req: IncomingMessage): void {
  if (!isHttp2(req)) return;
  const authority = req.headers[':authority'];
  if (typeof authority !== 'string') return;
  if (req.headers.host === undefined) req.headers.host = authority;
  else if (req.headers.host !== authority) throw new RegistryError(Codes.InvalidParameter, 'the Host header and :authority differ');
}

export function contentLength(req: IncomingMessage): number | undefined {
  const len = req.headers['content-length'];
  if (len === undefined) return undefined;
  const n = Number(len);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** Parses a query integer like `n`; undefined when absent. */
export function queryInt(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v === '') return undefined;
  if (!/^\d{1,9}$/.test(v)) throw new RegistryError(Codes.PaginationInvalid, `${name} must be a non-negative integer`);
  return Number(v);
}

/** An upload chunk's `Content-Range: <start>-<end>` (inclusive, as the distribution spec uses it). */
export function parseChunkRange(header: string | undefined): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const m = /^(?:bytes[ =])?(\d{1,15})-(\d{1,15})(?:\/(?:\d{1,15}|\*))?$/.exec(header.trim());
  if (!m) throw new RegistryError(Codes.BlobUploadInvalid, 'malformed Content-Range', { contentRange: header.slice(0, 100) });
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) throw new RegistryError(Codes.BlobUploadInvalid, 'malformed Content-Range', { contentRange: header.slice(0, 100) });
  return { start, end };
}

export type ByteRangeRequest = { start: number; end: number } | 'unsatisfiable' | undefined;

/** A blob GET's `Range: bytes=a-b | a- | -n` against a blob of `size` bytes (one range only). */
export function parseRange(header: string | undefined, size: number): ByteRangeRequest {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined; // unparseable or multi-range: RFC 9110 says ignore
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || (m[2] !== '' && Number(m[2]) < start)) return 'unsatisfiable';
  return { start, end };
}

/** Request bodies up to this size are read to the end before an error answer, keeping the connection. */
export const DRAIN_LIMIT = 8 * 1024 * 1024;
/** ...but a request refused for want of credentials gets no more than this read on its behalf. */
export const UNAUTHENTICATED_DRAIN_LIMIT = 64 * 1024;

/**
 * Before answering a request whose body was not read (an early refusal): reads and discards a
 * small remainder so the client, still sending, sees the answer rather than a reset; for a large
 * one returns false and the caller closes the connection instead of draining gigabytes.
 */
export async function discardBody(req: IncomingMessage, limit = DRAIN_LIMIT): Promise<boolean> {
  if (req.complete || !hasBody(req)) return true;
  const declared = Number(req.headers['content-length']);
  if (!Number.isFinite(declared) || declared > limit) return false;
  let seen = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      seen += chunk.length;
      if (seen > limit) return false;
    }
  } catch {
    return false;
  }
  return true;
}

/**
 * After an answer sent without reading the request's body (discardBody gave up): on HTTP/1.1 the
 * connection is closed (`Connection: close`, returned as a header to send); on h2, whose
 * connection carries other requests and where that header is forbidden, the stream alone is
 * reset with NO_ERROR once the answer is out, which tells the client to stop sending (RFC 9113
 * §8.1). What still arrives meanwhile is discarded, not buffered.
 */
export function stopReadingBody(req: IncomingMessage): Record<string, string> {
  req.resume();
  if (!isHttp2(req)) return { Connection: 'close' };
  const stream = req.stream;
  // The stream's own 'finish' (its writable side done): the compatibility response's 'finish'
  // only comes when the whole stream closes, which is what this is for.
  stream.once('finish', () => {
    if (!stream.closed) stream.close(constants.NGHTTP2_NO_ERROR);
  });
  return {};
}
