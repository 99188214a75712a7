/**
 * Blob reads from S3 without the SDK's response path: a GET of a presigned URL over a socket of
 * our own, whose body is read straight into large slabs and handed on as they are.
 *
 * Why: Node's HTTP client reads a socket 64 KiB at a time into a fresh buffer per read, runs each
 * through the parser and the message stream, and the SDK adds its own hops; relaying an object
 * that way cost ~4 CPU-s/GiB just to receive and ~10 CPU-s/GiB in all on the 2-core machine,
 * against ~1 for distribution's Go driver on the same gateway. A socket with `onread` reads as
 * much as the kernel has into the buffer we give it (up to a slab's free tail), so a GiB takes a
 * few thousand reads and no per-read allocation; the pieces are views of the slab, never copied.
 *
 * Only what a GetObject answer needs is parsed: the status line, the headers, and a body framed
 * by Content-Length (S3, RGW and MinIO all send one). An answer framed otherwise is refused with
 * UnframedResponseError so the caller can read it the SDK's way. Error answers become errors
 * named by S3's `<Code>`, with `$metadata.httpStatusCode`, as the SDK's are, so callers that test
 * `name` (not-found, KMS refusals) work unchanged.
 *
 * Connections are kept alive and reused (a few idle ones per endpoint, closed after IDLE_MS);
 * one reused connection that fails before answering is retried once on a fresh one, as the
 * server may have closed it meanwhile.
 */
import { isIP, connect as netConnect, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { ByteRange } from '../blob-store.js';
import { LEAN_SLAB_BYTES, ObjectBody, SLAB_BYTES, SlabPool, type BodySource, type Slab } from './object-body.js';

const MAX_HEAD = 64 * 1024;
const MAX_ERROR_BODY = 64 * 1024;
/** Each holds a slab (see nextBuffer), a lean one once it has read since it was idle. */
const MAX_IDLE_PER_HOST = 8;
const IDLE_MS = 4000;

/** An S3 error answer, shaped like the SDK's service exceptions. */
export class S3ResponseError extends Error {
  readonly $metadata: { httpStatusCode: number };
  constructor(status: number, code: string, message: string) {
    super(message || `S3 answered ${status}`);
    this.name = code || `Http${status}`;
    this.$metadata = { httpStatusCode: status };
  }
}

/** A 2xx answer this reader cannot frame (no Content-Length); nothing of it was consumed. */
export class UnframedResponseError extends Error {
  override name = 'UnframedResponseError';
}

interface Head {
  status: number;
  headers: Map<string, string>;
}

/** A connection's slabs: full ones for a body's fast relay, lean ones for the rest. */
interface Slabs {
  full: SlabPool;
  lean: SlabPool;
}

/**
 * One connection; its reads go to whichever exchange currently owns it. An answer's head and an
 * idle connection's reads go to lean slabs; a body's to full ones unless the download budget
 * granted it the lean shape (ObjectBody.lean).
 */
class Connection implements BodySource {
  readonly socket: Socket;
  private slab: Slab | undefined;
  private pool: SlabPool;
  onData: ((piece: Buffer, slab: Slab) => boolean) | undefined;
  onEnd: ((err: Error | undefined) => void) | undefined;
  reused = false;

  constructor(
    url: URL,
    private readonly slabs: Slabs,
  ) {
    this.pool = slabs.lean;
    const tls = url.protocol === 'https:';
    const port = Number(url.port) || (tls ? 443 : 80);
    // URL keeps an IPv6 literal's brackets, which connect() does not take.
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const onread = { buffer: () => this.nextBuffer(), callback: (n: number) => this.received(n) };
    // tls.connect honours onread as net.connect does (Node's docs), though @types/node omits it.
    this.socket = tls
      ? tlsConnect({ host, port, ...(isIP(host) === 0 && { servername: host }), onread } as ConnectionOptions)
      : netConnect({ host, port, onread });
    this.socket.setNoDelay(true);
    // Armed only while the connection is idle in the pool (see release).
    this.socket.on('timeout', () => this.socket.destroy());
    let failure: Error | undefined;
    this.socket.on('error', (e) => (failure = e));
    this.socket.on('close', () => {
      const end = this.onEnd;
      this.onData = this.onEnd = undefined;
      this.slab?.retire();
      end?.(failure);
    });
  }

  resume(): void {
    this.socket.resume();
  }

  readsLean(lean: boolean): void {
    this.pool = lean ? this.slabs.lean : this.slabs.full;
  }

  /**
   * The buffer of the socket's next read. Node asks for it right after each read, not before
   * the next, so `slab` is the one the next read lands in and must stay ours until then (an idle
   * connection holds its slab). A change of shape (readsLean) takes effect here: one read after.
   */
  private nextBuffer(): Buffer {
    const slab = this.slab;
    if (slab && (slab.pool !== this.pool || slab.pool.size - slab.used < slab.pool.minRead)) slab.retire();
    else if (slab) return slab.buf.subarray(slab.used);
    this.slab = this.pool.take();
    return this.slab.buf;
  }

  private received(n: number): boolean {
    const slab = this.slab!;
    const piece = slab.buf.subarray(slab.used, slab.used + n);
    // The piece now belongs to whoever takes it: the next read goes after it.
    slab.used += n;
    if (!this.onData) {
      // Bytes nobody asked for (a server talking out of turn): the connection cannot be trusted.
      this.socket.destroy();
      return false;
    }
    return this.onData(piece, slab);
  }
}

export class ObjectReader {
  private readonly idle = new Map<string, Connection[]>();
  private readonly slabs: Slabs = { full: new SlabPool(SLAB_BYTES, 64 * 1024, 8), lean: new SlabPool(LEAN_SLAB_BYTES, 16 * 1024, 32) };

  /**
   * GETs a presigned URL (with an unsigned Range header when `range` is given): resolves with
   * the body once a 2xx head arrived; rejects with S3ResponseError, UnframedResponseError, the
   * connection's error or the signal's reason.
   */
  async get(url: URL, range: ByteRange | undefined, signal?: AbortSignal): Promise<Readable> {
    const conn = this.take(url);
    try {
      return await this.exchange(conn, url, range, signal);
    } catch (e) {
      if (!conn.reused || !(e instanceof ConnectionLostError)) throw unwrap(e);
    }
    try {
      return await this.exchange(new Connection(url, this.slabs), url, range, signal);
    } catch (e) {
      throw unwrap(e);
    }
  }

  private take(url: URL): Connection {
    const list = this.idle.get(url.origin);
    for (let conn = list?.pop(); conn; conn = list?.pop()) {
      if (conn.socket.destroyed) continue;
      conn.socket.setTimeout(0);
      conn.socket.ref();
      conn.reused = true;
      return conn;
    }
    return new Connection(url, this.slabs);
  }

  private release(key: string, conn: Connection, reusable: boolean): void {
    const list = this.idle.get(key) ?? [];
    if (!reusable || conn.socket.destroyed || list.length >= MAX_IDLE_PER_HOST) {
      conn.socket.destroy();
      return;
    }
    conn.onEnd = () => {
      const i = list.indexOf(conn);
      if (i >= 0) list.splice(i, 1);
    };
    conn.readsLean(true);
    conn.socket.setTimeout(IDLE_MS);
    conn.socket.unref();
    // Reading while idle is how a close (or stray bytes) is noticed at once.
    conn.socket.resume();
    list.push(conn);
    this.idle.set(key, list);
  }

  private exchange(conn: Connection, url: URL, range: ByteRange | undefined, signal?: AbortSignal): Promise<Readable> {
    return new Promise((resolve, reject) => {
      let head: Buffer = Buffer.alloc(0);
      let parsed: Head | undefined;
      let errorBody: Buffer[] = [];
      let errorLeft = 0;
      const fail = (e: Error) => {
        signal?.removeEventListener('abort', onAbort);
        conn.onData = conn.onEnd = undefined;
        conn.socket.destroy();
        reject(e);
      };
      const onAbort = () => fail(signal!.reason instanceof Error ? signal!.reason : new Error('aborted'));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });

      const rejectWithError = () => {
        const xml = Buffer.concat(errorBody).toString('utf8');
        const tag = (t: string) => new RegExp(`<${t}>([^<]*)</${t}>`).exec(xml)?.[1] ?? '';
        fail(new S3ResponseError(parsed!.status, tag('Code'), tag('Message')));
      };
      conn.onEnd = (err) => {
        if (parsed) return rejectWithError();
        // Nothing answered: the server dropped the connection (an idle one it had closed, say).
        fail(new ConnectionLostError(err ?? new Error('S3 closed the connection before answering')));
      };
      const collectError = (piece: Buffer) => {
        // An error answer's body: small XML, collected whole.
        errorBody.push(Buffer.from(piece.subarray(0, errorLeft)));
        errorLeft -= Math.min(errorLeft, piece.length);
        if (errorLeft === 0) rejectWithError();
        return true;
      };
      conn.onData = (piece) => {
        if (parsed) return collectError(piece);
        // Copied: the piece is a view of a slab that is reused once retired.
        head = Buffer.concat([head, piece]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) {
          if (head.length > MAX_HEAD) fail(new Error('S3 answer head too large'));
          return true;
        }
        try {
          parsed = parseHead(head.subarray(0, end).toString('latin1'));
        } catch (e) {
          fail(e as Error);
          return false;
        }
        const rest = head.subarray(end + 4);
        const length = parsed.headers.get('content-length');
        const framed = length !== undefined && /^\d+$/.test(length) && !parsed.headers.has('transfer-encoding');
        if (parsed.status < 200 || parsed.status >= 300) {
          errorLeft = framed ? Math.min(Number(length), MAX_ERROR_BODY) : MAX_ERROR_BODY;
          errorBody = [];
          return rest.length > 0 || errorLeft === 0 ? collectError(rest) : true;
        }
        if (!framed) {
          fail(new UnframedResponseError('S3 answered without a Content-Length'));
          return false;
        }
        if (rest.length > Number(length)) {
          fail(new Error('S3 sent more bytes than its Content-Length'));
          return false;
        }
        signal?.removeEventListener('abort', onAbort);
        const reusable = parsed.headers.get('connection')?.toLowerCase() !== 'close';
        resolve(new ObjectBody(conn, Number(length), rest, (clean) => this.release(url.origin, conn, clean && reusable)));
        // The body starts reading once it is read or written somewhere.
        return false;
      };
      // The head (and what comes with it, copied) in a lean slab: the body's shape is not known yet.
      conn.readsLean(true);
      conn.socket.write(requestHead(url, range));
      // A connection from the pool may have been left paused by the end of its last body.
      conn.resume();
    });
  }
}

class ConnectionLostError extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message);
  }
}

function unwrap(e: unknown): unknown {
  return e instanceof ConnectionLostError ? e.cause : e;
}

function requestHead(url: URL, range: ByteRange | undefined): string {
  const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`, 'Accept-Encoding: identity'];
  if (range) lines.push(`Range: bytes=${range.start}-${range.end}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

function parseHead(text: string): Head {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!m) throw new Error(`S3 answered something other than HTTP/1.1: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: Number(m[1]), headers };
}
