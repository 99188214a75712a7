/**
 * An HTTP client that behaves as the OCI distribution-spec conformance suite's does
 * (opencontainers/distribution-spec `conformance/`): each request goes out without credentials;
 * a 401 is answered by following its `WWW-Authenticate` challenge (Basic: the user and password;
 * Bearer: a token from the realm, asked with Basic) and retrying once; the Authorization found is
 * then cached per host, repository and pull/push, as the newer runner's `CacheAuth` does, or not
 * at all (`cacheAuth: false`), as the v1.1 suite's client (reggie) does: there every request, body
 * and all, is first sent without credentials and refused. So a test
 * driving Berth through it checks that Berth accepts what the suite sends, not what our own
 * helpers (which always present a login) send.
 */
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { Fetched } from './registry-http.js';

export interface SuiteRequest {
  headers?: Record<string, string>;
  body?: Buffer;
  /** Query parameters added to the URL, in order (the suite's SetQueryParam / apiWithURLParam). */
  query?: Record<string, string>;
}

/** A response with its header lines as sent, for checks that read them as Go's Header.Values does. */
export interface SuiteFetched extends Fetched {
  lines: Array<[string, string]>;
}

/** Every value of a header, one per header line and not split at commas (Go's Header.Values). */
export const headerValues = (r: SuiteFetched, name: string): string[] => r.lines.filter(([k]) => k.toLowerCase() === name.toLowerCase()).map(([, v]) => v);

const REPO_IN_PATH = /^\/v2\/(.+?)\/(?:blobs|manifests|tags|referrers)\//;

export class SuiteClient {
  private readonly cache = new Map<string, string>();
  /** Every challenge seen, to assert on what Berth asked for. */
  readonly challenges: string[] = [];

  constructor(
    readonly base: string,
    private readonly user: string,
    private readonly pass: string,
    private readonly opts: { cacheAuth: boolean } = { cacheAuth: true },
  ) {}

  /** `path` is absolute (`/v2/...`) or a Location header's value (relative or absolute). */
  async do(method: string, path: string, req: SuiteRequest = {}): Promise<SuiteFetched> {
    const url = new URL(path, this.base);
    for (const [k, v] of Object.entries(req.query ?? {})) url.searchParams.append(k, v);
    const key = cacheKey(url, method);
    const headers = new Headers(req.headers);
    const cached = this.cache.get(key);
    if (cached) headers.set('authorization', cached);
    let res = await send(url, method, headers, req.body);
    if (res.status === 401) {
      const challenge = res.headers.get('www-authenticate') ?? '';
      this.challenges.push(challenge);
      const auth = await this.answer(challenge, url);
      if (auth) {
        if (this.opts.cacheAuth) this.cache.set(key, auth);
        headers.set('authorization', auth);
        res = await send(url, method, headers, req.body);
      }
    }
    return res;
  }

  private async answer(challenge: string, url: URL): Promise<string | undefined> {
    const basic = `Basic ${Buffer.from(`${this.user}:${this.pass}`).toString('base64')}`;
    if (/^\s*basic/i.test(challenge)) return basic;
    if (!/^\s*bearer/i.test(challenge)) return undefined;
    const params = Object.fromEntries([...challenge.matchAll(/([a-zA-Z]+)="(.+?)"/g)].map((m) => [m[1]!.toLowerCase(), m[2]!]));
    const realm = new URL(params.realm ?? '', url);
    realm.searchParams.set('service', params.service ?? '');
    if (params.scope) realm.searchParams.set('scope', params.scope);
    const res = await fetch(realm, { headers: { authorization: basic, accept: 'application/json' } });
    if (res.status !== 200) return undefined;
    const body = (await res.json()) as { token?: string; access_token?: string };
    return `Bearer ${body.access_token ?? body.token}`;
  }
}

function cacheKey(url: URL, method: string): string {
  const repo = REPO_IN_PATH.exec(url.pathname)?.[1] ?? '';
  const kind = method === 'GET' || method === 'HEAD' ? 'pull' : method === 'DELETE' ? 'delete' : 'push';
  return `${url.host}:${repo}:${kind}`;
}

/**
 * node:http rather than fetch: the suite sends a body with a GET (its "Error codes" spec), which
 * fetch refuses to. Go's client sends Content-Length: 0 on a body-less PUT/POST/PATCH/DELETE.
 */
function send(url: URL, method: string, headers: Headers, body: Buffer | undefined): Promise<SuiteFetched> {
  const out: Record<string, string> = Object.fromEntries(headers.entries());
  const payload = body ?? (method === 'GET' || method === 'HEAD' ? undefined : Buffer.alloc(0));
  if (payload !== undefined) out['content-length'] = String(payload.length);
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: out }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
        const lines: Array<[string, string]> = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) lines.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!]);
        resolve({ status: res.statusCode ?? 0, headers: h, body: Buffer.concat(chunks), lines });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

export const digestOf = (data: Buffer | string, alg: 'sha256' | 'sha512' = 'sha256'): string => `${alg}:${createHash(alg).update(data).digest('hex')}`;

/** Go's json.MarshalIndent(v, "", "\t"), which the v1.1 suite's setup uses for every document. */
export const goIndent = (v: unknown): Buffer => Buffer.from(JSON.stringify(v, null, '\t'));
