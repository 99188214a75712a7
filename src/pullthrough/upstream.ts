/**
 * A client of an upstream OCI registry, as docker talks to one: a request answered 401 is
 * retried once after following its `WWW-Authenticate` challenge — `Bearer realm=...,service=...,
 * scope=...` (a token from the realm, with the credentials as Basic when there are any) or
 * `Basic` (the credentials themselves). Tokens are kept per scope until they expire.
 *
 * Everything is bounded so that a slow or broken upstream can never hang a pull: connecting
 * (10 s, undici's connect timeout), the answer's headers (`headersTimeoutMs`), redirects (5,
 * credentials never follow a redirect to another host), token and error bodies (64 KiB). Header
 * sizes are bounded by Node's HTTP parser (16 KiB). Bodies are returned as streams; callers bound
 * what they buffer.
 */
import type { Readable } from 'node:stream';
import { Readable as NodeReadable } from 'node:stream';
import type { Fetch } from '../core/guarded-fetch.js';
import { OutboundRefused } from '../core/outbound-reach.js';

export interface UpstreamCredentials {
  username: string;
  password: string;
}

export interface UpstreamLimits {
  /** Until the answer's headers arrive (connect included). */
  headersTimeoutMs: number;
}

export const DEFAULT_UPSTREAM_LIMITS: UpstreamLimits = { headersTimeoutMs: 30_000 };

/** An upstream that did not answer as a registry should: names the upstream and what it did. */
export class UpstreamError extends Error {
  constructor(
    message: string,
    /** The upstream's HTTP status, when it answered at all. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

export interface UpstreamResponse {
  status: number;
  headers: Headers;
  body: Readable;
}

const MAX_REDIRECTS = 5;
const MAX_SMALL_BODY = 64 * 1024;
const USER_AGENT = 'berth-pull-through-cache';

interface Challenge {
  scheme: 'bearer' | 'basic';
  params: Record<string, string>;
}

/** `Bearer realm="...",service="...",scope="..."` → its scheme and parameters. */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(Bearer|Basic)\b(.*)$/i.exec(header.slice(0, 4096));
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) params[p[1]!.toLowerCase()] = p[2] ?? p[3] ?? '';
  return { scheme: m[1]!.toLowerCase() as 'bearer' | 'basic', params };
}

export class UpstreamClient {
  readonly #tokens = new Map<string, { token: string; until: number }>();

  constructor(
    /** `https://host[:port]` (or http:// where allowed), without a trailing slash. */
    readonly base: string,
    private readonly credentials: UpstreamCredentials | undefined,
    private readonly limits: UpstreamLimits = DEFAULT_UPSTREAM_LIMITS,
    /** Every hop (redirects and token realms included) goes through it: guardedFetch holds it to the reach policy. */
    private readonly fetcher: Fetch = fetch,
  ) {}

  /** Whether the upstream answers `/v2/` with these credentials; a reason when not. */
  async check(): Promise<{ ok: true } | { ok: false; failure: string }> {
    try {
      const res = await this.request('GET', '/v2/', { scope: undefined });
      await drain(res.body);
      if (res.status === 200) return { ok: true };
      return { ok: false, failure: `${this.base} answered GET /v2/ with ${res.status}${res.status === 401 ? ' (the credentials were refused)' : ''}` };
    } catch (e) {
      return { ok: false, failure: e instanceof Error ? e.message : String(e) };
    }
  }

  /**
   * One request to the upstream, authenticated as its challenge asks; `scope` is the token scope
   * (`repository:<name>:pull`). Redirects are followed (without credentials to another host).
   */
  async request(method: 'GET' | 'HEAD', path: string, opts: { scope: string | undefined; accept?: string; signal?: AbortSignal }): Promise<UpstreamResponse> {
    const key = opts.scope ?? '';
    let auth = this.authorizationFor(key);
    let res = await this.send(method, `${this.base}${path}`, auth, opts);
    if (res.status === 401) {
      const challenge = parseChallenge(res.headers.get('www-authenticate'));
      await drain(res.body);
      if (!challenge) throw new UpstreamError(`${this.base} answered 401 without a usable WWW-Authenticate challenge`, 401);
      auth = await this.authorize(challenge, key, opts.signal);
      res = await this.send(method, `${this.base}${path}`, auth, opts);
    }
    return res;
  }

  private authorizationFor(key: string): string | undefined {
    const t = this.#tokens.get(key);
    if (t && t.until > Date.now()) return `Bearer ${t.token}`;
    return undefined;
  }

  private basic(): string | undefined {
    const c = this.credentials;
    return c && `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
  }

  private async authorize(challenge: Challenge, key: string, signal: AbortSignal | undefined): Promise<string> {
    if (challenge.scheme === 'basic') {
      const b = this.basic();
      if (!b) throw new UpstreamError(`${this.base} asks for Basic credentials and the rule has none`, 401);
      return b;
    }
    const realm = challenge.params.realm;
    if (!realm || !/^https?:\/\//i.test(realm)) throw new UpstreamError(`${this.base} answered 401 with a Bearer challenge without a usable realm`, 401);
    const url = new URL(realm);
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    const scope = key || challenge.params.scope;
    if (scope) url.searchParams.set('scope', scope);
    if (url.protocol === 'http:' && !this.base.startsWith('http:')) throw new UpstreamError(`${this.base}'s token realm ${url.origin} is plain HTTP; refused`);
    const b = this.basic();
    const res = await this.send('GET', url.toString(), b, { ...(signal && { signal }) }, url.host);
    const text = await readSmall(res.body);
    if (res.status !== 200) throw new UpstreamError(`${url.origin} (the token service of ${this.base}) answered ${res.status}`, res.status);
    let token: string | undefined;
    let expires = 60;
    try {
      const doc = JSON.parse(text) as { token?: unknown; access_token?: unknown; expires_in?: unknown };
      token = typeof doc.token === 'string' ? doc.token : typeof doc.access_token === 'string' ? doc.access_token : undefined;
      if (typeof doc.expires_in === 'number' && doc.expires_in > 0) expires = Math.min(doc.expires_in, 3600);
    } catch {
      token = undefined;
    }
    if (!token) throw new UpstreamError(`${url.origin} (the token service of ${this.base}) answered without a token`);
    // Renewed a little early: a token must not expire between this check and the upstream's.
    this.#tokens.set(key, { token, until: Date.now() + Math.max(expires - 10, 1) * 1000 });
    if (this.#tokens.size > 1000) this.#tokens.delete(this.#tokens.keys().next().value!);
    return `Bearer ${token}`;
  }

  /** One request with bounded redirects; `authHost` is the host credentials may go to. */
  private async send(
    method: string,
    url: string,
    authorization: string | undefined,
    opts: { accept?: string; signal?: AbortSignal },
    authHost = new URL(this.base).host,
  ): Promise<UpstreamResponse> {
    let current = new URL(url);
    for (let hop = 0; ; hop++) {
      const timer = new AbortController();
      const timeout = setTimeout(() => timer.abort(), this.limits.headersTimeoutMs);
      const signal = opts.signal ? AbortSignal.any([opts.signal, timer.signal]) : timer.signal;
      let res: Response;
      try {
        res = await this.fetcher(current, {
          method,
          redirect: 'manual',
          signal,
          headers: {
            'User-Agent': USER_AGENT,
            ...(opts.accept !== undefined && { Accept: opts.accept }),
            ...(authorization !== undefined && current.host === authHost && { Authorization: authorization }),
          },
        });
      } catch (e) {
        if (opts.signal?.aborted) throw e;
        const why = timer.signal.aborted
          ? `did not answer within ${Math.round(this.limits.headersTimeoutMs / 1000)} s`
          : `could not be reached (${causeOf(e)})`;
        throw new UpstreamError(`upstream ${current.origin} ${why}`);
      } finally {
        clearTimeout(timeout);
      }
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel().catch(() => undefined);
        if (hop >= MAX_REDIRECTS) throw new UpstreamError(`upstream ${this.base} redirected more than ${MAX_REDIRECTS} times`, res.status);
        const next = new URL(location, current);
        if (next.protocol !== 'https:' && next.protocol !== current.protocol)
          throw new UpstreamError(`upstream ${this.base} redirected to ${next.protocol}; refused`);
        current = next;
        continue;
      }
      const body = res.body ? NodeReadable.fromWeb(res.body as import('node:stream/web').ReadableStream) : NodeReadable.from([]);
      return { status: res.status, headers: res.headers, body };
    }
  }
}

function causeOf(e: unknown): string {
  const cause = e instanceof Error && e.cause instanceof Error ? e.cause : e;
  if (cause instanceof OutboundRefused) return cause.message;
  const code = (cause as { code?: unknown }).code;
  return typeof code === 'string' ? code : cause instanceof Error ? cause.message.slice(0, 200) : 'unknown error';
}

export async function drain(body: Readable): Promise<void> {
  body.resume();
  await new Promise<void>((res) => {
    body.once('end', res);
    body.once('error', () => res());
    body.once('close', res);
  });
}

/** A small body (a token, an error) read whole, at most 64 KiB. */
export async function readSmall(body: Readable, max = MAX_SMALL_BODY): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of body) {
    size += (c as Buffer).length;
    if (size > max) {
      body.destroy();
      throw new UpstreamError(`an upstream answer exceeded ${max} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
