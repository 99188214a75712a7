/**
 * What a browser does with Berth's console API, over real HTTP with fetch: it keeps the session
 * cookie Berth sets (and sends it back only to /console paths), and sends the CSRF token it
 * was given in the X-Berth-Csrf header on each POST, as the console app does.
 */

export interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  text: string;
}

export class ConsoleBrowser {
  /** The cookie as the browser stores it (name=value), if any. */
  cookie: string | undefined;
  csrf: string | undefined;
  /** Every Set-Cookie header heard, whole (to check its attributes). */
  readonly setCookies: string[] = [];

  constructor(readonly url: string) {}

  async request(path: string, init: RequestInit & { csrf?: string | false } = {}): Promise<Answer> {
    const headers = new Headers(init.headers);
    if (this.cookie !== undefined && path.startsWith('/console')) headers.set('Cookie', this.cookie);
    const csrf = init.csrf === undefined ? this.csrf : init.csrf;
    if (init.method === 'POST' && typeof csrf === 'string') headers.set('X-Berth-Csrf', csrf);
    const res = await fetch(`${this.url}${path}`, { ...init, headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      this.setCookies.push(c);
      const pair = c.split(';')[0]!;
      this.cookie = /Max-Age=0/i.test(c) ? undefined : pair;
    }
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
    } catch {
      // not JSON: the text is there
    }
    return { status: res.status, headers: res.headers, body, text };
  }

  async signIn(credentials: object): Promise<Answer> {
    const a = await this.request('/console/api/sign-in', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(credentials),
    });
    if (a.status === 200) this.csrf = a.body.csrfToken as string;
    return a;
  }

  session(): Promise<Answer> {
    return this.request('/console/api/session');
  }

  signOut(): Promise<Answer> {
    return this.request('/console/api/sign-out', { method: 'POST' });
  }

  /** An ECR action, as the app calls it. */
  ecr(operation: string, body: object = {}, opts: { csrf?: string | false } = {}): Promise<Answer> {
    return this.request('/console/api/ecr', {
      method: 'POST',
      headers: { 'X-Amz-Target': `AmazonEC2ContainerRegistry_V20150921.${operation}`, 'Content-Type': 'application/x-amz-json-1.1' },
      body: JSON.stringify(body),
      ...opts,
    });
  }

  /** An IAM action, as the app calls it (the Query form). */
  iam(params: Record<string, string>, opts: { csrf?: string | false } = {}): Promise<Answer> {
    return this.request('/console/api/iam', { method: 'POST', body: new URLSearchParams(params), ...opts });
  }

  can(checks: Array<{ action: string; resource?: string }>): Promise<Answer> {
    return this.request('/console/api/can', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ checks }) });
  }
}
