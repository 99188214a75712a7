/**
 * What the handlers learn about a request on the way — who asked, which operation it is, what
 * was refused, which error answered — kept beside the request for the observers that report it
 * when the response closes (the access log, and whatever else is composed in: an audit trail,
 * metrics). The handlers note facts; they never know who reads them. A record is made only when
 * some observer listens, so an unobserved server pays nothing but the request id.
 */
import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2 from 'node:http2';
import type { Principal } from '../auth/principal.js';
import type { Clock } from '../core/clock.js';
import type { RegistryKey } from '../core/registry-key.js';

export const REQUEST_ID_HEADER = 'x-amzn-RequestId';

/** The door a request came through. */
export type ApiName = 'oci' | 'ecr' | 'ecr-public' | 'iam' | 'sts' | 'kms' | 'events' | 'cloudtrail' | 'secretsmanager' | 'signer' | 'signin';

export interface RequestFacts {
  readonly requestId: string;
  /** performance.now() when the request arrived: a double, where an hrtime.bigint() read allocates a BigInt each time. */
  readonly startedMs: number;
  /** When the response closed, by the observers' clock: read once by the first that asks (closeTime), then shared. */
  closedAt: Date | undefined;
  /** Body bytes read from the request and written to the response so far (zeros when no observer counts them). */
  readonly bytes: { sent: number; received: number };
  /** Read when the request arrives: once an h2 stream has closed, its request no longer reaches the session's socket. */
  readonly sourceIp: string | undefined;
  /** Who asked; unset for a request never authenticated (anonymous, or refused before). */
  principal?: Principal;
  /**
   * The operation, named as its API names it: the JSON/Query action (`PutImage`, `CreateUser`),
   * or for /v2 the OCI operation (`manifest-read`, `upload-complete`, ...).
   */
  operation?: { api: ApiName; name: string };
  /** What the operation addresses, as the caller named it: a repository, a key id... */
  resource?: string;
  /** The registry a /v2 request addresses, once known (the caller's own, or another account's). */
  registryKey?: RegistryKey;
  /** The registry and repository a /v2 request addresses, once known (usage and pull counts). */
  repository?: { registryKey: RegistryKey; name: string };
  /** The request's parameters as parsed (JSON body or Query form); observers redact what they must. */
  params?: Readonly<Record<string, unknown>>;
  /** The authorization check that refused the request. */
  denied?: { action: string; resource: string };
  /** The error that answered the request: its wire name and message. */
  error?: { code: string; message: string };
  /** Why Berth cut the connection (or h2 stream) under the request: a slow-client rule (slow-clients.ts). */
  cut?: string;
}

/**
 * The status logged and counted for a request whose connection closed before any answer went out
 * (the client gave up while Berth authorized or read): nginx's "client closed request". Node's
 * `statusCode` reads 200 until a handler sets it, which in the log would read as a success — an
 * anonymous manifest PUT the client abandoned showed as `200 anonymous`.
 */
export const NO_ANSWER_STATUS = 499;

/** The status the client was sent, or NO_ANSWER_STATUS when none was. */
export function answeredStatus(res: ServerResponse): number {
  return res.headersSent ? res.statusCode : NO_ANSWER_STATUS;
}

/** Told once per request, when its response closes (finished or aborted). */
export interface RequestObserver {
  requestClosed(req: IncomingMessage, res: ServerResponse, facts: Readonly<RequestFacts>): void;
  /**
   * Whether this observer reads `bytes`. Counting costs a counted request a field per read and
   * write (see installCounting), so it is done only when some observer reads the counts.
   */
  readonly countsBytes?: boolean;
}

/**
 * The record of an observed request, on the request and on its response under a symbol: where
 * a WeakMap entry per request (the record's old home) was an ephemeron each scavenge had to
 * visit, and the counts' own symbol a second store on each. The byte-counting wrappers and the
 * shared close listener find the record there too.
 */
const kFacts = Symbol('berth.requestFacts');
type Observed = { [kFacts]?: RequestRecord };

/** The operation objects of (api, name) pairs, made once each: a request's note allocates none. */
const operations = new Map<ApiName, Map<string, { api: ApiName; name: string }>>();
/**
 * Distinct names kept per API, and the longest kept: an unknown action is the client's string, so
 * what is kept stays small (past these, a request gets an object of its own, as before).
 */
const MAX_OPERATIONS_PER_API = 1000;
const MAX_KEPT_NAME = 64;

/**
 * A request's facts with every field there from the start: one map (hidden class) for every
 * request. Fields added as the doors note them made the map depend on which were noted and in
 * which order (a manifest GET's, a push's, a JSON call's, a refusal's), so each note and each
 * observer's reads met several maps, more of them the more kinds of request a server had served.
 */
class RequestRecord implements RequestFacts {
  closedAt: Date | undefined = undefined;
  principal: Principal | undefined = undefined;
  operation: { api: ApiName; name: string } | undefined = undefined;
  resource: string | undefined = undefined;
  registryKey: RegistryKey | undefined = undefined;
  repository: { registryKey: RegistryKey; name: string } | undefined = undefined;
  params: Readonly<Record<string, unknown>> | undefined = undefined;
  denied: { action: string; resource: string } | undefined = undefined;
  error: { code: string; message: string } | undefined = undefined;
  cut: string | undefined = undefined;
  /** Whether the observers have been told (a second 'close' tells them nothing). */
  told = false;

  constructor(
    readonly requestId: string,
    readonly startedMs: number,
    readonly bytes: ByteCounts,
    readonly sourceIp: string | undefined,
    /** Who is told at close, and of which request: read by the one listener all responses share. */
    readonly observers: readonly RequestObserver[],
    readonly req: IncomingMessage,
  ) {}
}

/** Whether some observer of a list reads byte counts, worked out once per list (a server has one). */
const countingLists = new WeakMap<readonly RequestObserver[], boolean>();

function counts(observers: readonly RequestObserver[]): boolean {
  let c = countingLists.get(observers);
  if (c === undefined) countingLists.set(observers, (c = observers.some((o) => o.countsBytes !== false)));
  return c;
}

/**
 * Starts a request's record: gives it an id (set on the response at once, so every answer
 * carries it) and, when anyone observes, counts body bytes both ways and tells each observer
 * when the response closes.
 */
export function beginRequest(req: IncomingMessage, res: ServerResponse, observers: readonly RequestObserver[]): string {
  const requestId = randomUUID();
  res.setHeader(REQUEST_ID_HEADER, requestId);
  if (observers.length === 0) return requestId;
  const bytes = new ByteCounts(counts(observers));
  if (bytes.counting && !countingInstalled) installCounting();
  const facts = new RequestRecord(requestId, performance.now(), bytes, req.socket.remoteAddress, observers, req);
  (req as Observed)[kFacts] = facts;
  (res as Observed)[kFacts] = facts;
  // One function for every response, which finds the record on it: a closure per request and
  // once()'s wrapper around it were three allocations a request.
  res.on('close', observedClose);
  return requestId;
}

function observedClose(this: ServerResponse): void {
  const f = (this as Observed)[kFacts];
  if (f === undefined || f.told) return;
  f.told = true;
  for (const o of f.observers) o.requestClosed(f.req, this, f);
}

/**
 * When the request's response closed, by `clock` (the composition root gives every observer the
 * same one): the trail's eventTime and usage's day both stamp a GET with it, and a `new Date()`
 * costs a loop near a microsecond on a VM's clock, so the first observer to ask reads it and the
 * others share that Date (which none of them mutates).
 */
export function closeTime(f: Readonly<RequestFacts>, clock: Clock): Date {
  // The facts' one field written after arrival by an observer: a cache, the same for every reader.
  return ((f as RequestFacts).closedAt ??= clock.now());
}

/** The record of a request being observed; undefined when nobody observes. */
export function factsOf(req: IncomingMessage): RequestFacts | undefined {
  return (req as Observed)[kFacts];
}

/** Called where a request is authenticated; a request never authenticated counts as anonymous. */
export function notePrincipal(req: IncomingMessage, principal: Principal): void {
  const f = (req as Observed)[kFacts];
  if (f) f.principal = principal;
}

/** Called where a router knows which operation a request is and, once parsed, its parameters. */
export function noteOperation(
  req: IncomingMessage,
  api: ApiName,
  name: string,
  detail?: { resource?: string | undefined; params?: Record<string, unknown> },
): void {
  const f = (req as Observed)[kFacts];
  if (!f) return;
  f.operation = operationNamed(api, name);
  if (detail?.resource !== undefined) f.resource = detail.resource;
  if (detail?.params !== undefined) f.params = detail.params;
}

function operationNamed(api: ApiName, name: string): { api: ApiName; name: string } {
  let names = operations.get(api);
  if (names === undefined) operations.set(api, (names = new Map()));
  let op = names.get(name);
  if (op === undefined) {
    op = Object.freeze({ api, name });
    if (names.size < MAX_OPERATIONS_PER_API && name.length <= MAX_KEPT_NAME) names.set(name, op);
  }
  return op;
}

/**
 * Called where a /v2 request's registry is known; the repository is the noted resource, without
 * the public alias a public repository's path starts with.
 */
export function noteRegistry(req: IncomingMessage, registryKey: RegistryKey, publicAlias?: string): void {
  const f = (req as Observed)[kFacts];
  if (!f) return;
  f.registryKey = registryKey;
  if (f.resource === undefined) return;
  const name = publicAlias !== undefined && f.resource.startsWith(`${publicAlias}/`) ? f.resource.slice(publicAlias.length + 1) : f.resource;
  f.repository = { registryKey, name };
}

/** Called where an authorization check refused the request, so observers can name what was refused. */
export function noteDenied(req: IncomingMessage, action: string, resource: string): void {
  const f = (req as Observed)[kFacts];
  if (f) f.denied = { action, resource };
}

/** Called with body bytes a response sent past its own write() (a byte thread writing to the socket). */
export function noteBytesSent(req: IncomingMessage, bytes: number): void {
  const f = (req as Observed)[kFacts];
  if (f) f.bytes.sent += bytes;
}

/** Called where a slow-client rule cuts the request's connection (or stream), before it does. */
export function noteCut(req: IncomingMessage, why: string): void {
  const f = (req as Observed)[kFacts];
  if (f) f.cut = why;
}

/** Called where an error answer is sent, with the wire name the client sees. */
export function noteError(req: IncomingMessage, code: string, message: string): void {
  const f = (req as Observed)[kFacts];
  if (f) f.error = { code, message };
}

/** The id of the request a response answers (a fresh one for a response outside any request). */
export function requestIdOf(res: ServerResponse): string {
  const id = res.getHeader(REQUEST_ID_HEADER);
  return typeof id === 'string' ? id : randomUUID();
}

/**
 * A request's body byte counts while some observer reads them. One class for counted and
 * uncounted requests alike, so the observers reading `bytes` see one shape.
 */
class ByteCounts {
  sent = 0;
  received = 0;
  /** h2's compatibility response writes end's chunk through write: counted once, by end. */
  ending = false;

  /** `counting`: whether the wrappers count this request's bytes (some observer reads them). */
  constructor(readonly counting: boolean) {}
}

/**
 * Body bytes are counted by one wrapper of push, write and end on each class's prototype
 * (installed at the first counted request), which finds the request's counts through its record:
 * a function of its own per request and method gave every request and response own properties
 * (maps of their own in node's http code, whose call sites then saw a fresh closure per request,
 * which V8 cannot inline), on every request of a server with any observer (usage always counts).
 */
let countingInstalled = false;

function installCounting(): void {
  countingInstalled = true;
  type Push = (chunk: unknown, encoding?: BufferEncoding) => boolean;
  for (const proto of [http.IncomingMessage.prototype, http2.Http2ServerRequest.prototype] as Array<{ push: Push }>) {
    const push = proto.push;
    proto.push = function (this: Observed, chunk: unknown, encoding?: BufferEncoding) {
      const c = this[kFacts]?.bytes;
      if (c?.counting && chunk !== null && chunk !== undefined) c.received += byteLength(chunk, encoding);
      return push.call(this, chunk, encoding);
    };
  }
  // Both classes take (chunk, encoding, callback) and tell them apart by type, not by count: fixed
  // parameters pass them on without a rest array per call.
  type Write = (chunk: unknown, encoding: unknown, callback: unknown) => unknown;
  for (const proto of [http.ServerResponse.prototype, http2.Http2ServerResponse.prototype] as unknown as Array<{ write: Write; end: Write }>) {
    const write = proto.write;
    const end = proto.end;
    proto.write = function (this: Observed, chunk: unknown, encoding: unknown, callback: unknown) {
      const c = this[kFacts]?.bytes;
      if (c?.counting && !c.ending) c.sent += byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : undefined);
      return write.call(this, chunk, encoding, callback);
    };
    proto.end = function (this: Observed, chunk: unknown, encoding: unknown, callback: unknown) {
      const c = this[kFacts]?.bytes;
      if (c === undefined || !c.counting) return end.call(this, chunk, encoding, callback);
      if (typeof chunk !== 'function') c.sent += byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : undefined);
      c.ending = true;
      try {
        return end.call(this, chunk, encoding, callback);
      } finally {
        c.ending = false;
      }
    };
  }
}

function byteLength(chunk: unknown, encoding: BufferEncoding | undefined): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, encoding);
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}
