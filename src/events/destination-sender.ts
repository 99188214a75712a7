/**
 * One request to an API destination, as EventBridge makes it: the target, its destination and
 * connection looked up (or why the delivery is moot), the destination's rate limit (per node),
 * the connection's credentials (API key, Basic, or an OAuth client-credentials token kept until
 * shortly before it expires), the target's and connection's HTTP parameters, and what the answer
 * means (sent, retry later, or drop). The deliverer decides when and how often to call it.
 */
import type { Clock } from '../core/clock.js';
import { guardedFetch } from '../core/guarded-fetch.js';
import { ReachPolicy, type ReachSettings } from '../core/outbound-reach.js';
import { accountOf, regionOf, type RegistryKey } from '../core/registry-key.js';
import type { MetadataStore } from '../metadata/types.js';
import { ruleArn, type ApiDestinationDoc, type ConnectionDoc, type ConnectionSecrets, type HttpParameters, type TargetDoc } from './documents.js';
import { outboundThread } from './outbound-client.js';
import type { Outbound } from './outbound.js';
import type { SecretBox } from './service.js';

/** EventBridge's API destinations wait 5 seconds for an answer. */
const REQUEST_TIMEOUT_MS = 5000;
const USER_AGENT = 'Amazon/EventBridge/ApiDestinations';

export type Outcome = { ok: true } | { retryAfterMs: number } | { error: string } | { drop: string };

export interface Resolved {
  target: TargetDoc;
  dest: ApiDestinationDoc;
  conn: ConnectionDoc;
  secrets: ConnectionSecrets;
}

export interface SenderOptions {
  meta: Pick<MetadataStore, 'eventResources'>;
  clock: Clock;
  secrets: SecretBox;
  /** Aborted when the deliverer stops: an OAuth token request in flight ends with it. */
  signal: AbortSignal;
  /** Where endpoints may be reached (outboundAllow/outboundDeny); the defaults when absent. */
  reach?: ReachSettings;
  /** Whether the role `roleArn` may events:InvokeApiDestination on `destinationArn` (its identity policies). */
  mayInvoke: MayInvoke;
}

/** Asked before every send, so a role's policy changed since PutTargets counts. */
/** `ruleArn`: the rule whose target names the role (aws:SourceArn in the role's trust policy). */
export type MayInvoke = (roleArn: string, destinationArn: string, ruleArn?: string) => Promise<boolean>;

export class DestinationSender {
  private readonly out: Outbound;
  private readonly fetch: ReturnType<typeof guardedFetch>;
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly tokens = new Map<string, { token: string; until: number }>();

  constructor(private readonly opts: SenderOptions) {
    this.out = outboundThread(opts.reach);
    this.fetch = guardedFetch(new ReachPolicy(opts.reach));
  }

  close(): void {
    this.out.close();
  }

  /** The target, its destination and connection, with the connection's secrets; or why the delivery is moot. */
  async resolve(key: RegistryKey, rule: string, targetId: string): Promise<Resolved | { drop: string }> {
    const { meta } = this.opts;
    const targetRow = (await meta.eventResources.targets(key, rule)).find((t) => t.id === targetId);
    if (!targetRow) return { drop: 'the target was removed' };
    const target = JSON.parse(targetRow.document) as TargetDoc;
    const destName = /:api-destination\/([^/]+)\//.exec(target.Arn)?.[1];
    const destRow = destName === undefined ? undefined : await meta.eventResources.get(key, 'api-destination', destName);
    const dest = destRow && (JSON.parse(destRow.document) as ApiDestinationDoc);
    if (!dest || dest.Arn !== target.Arn) return { drop: 'the API destination was deleted' };
    // EventBridge invokes an API destination with the target's role (its guide: "To use an API
    // destination as a target, you must provide an IAM role with the correct permissions").
    if (target.RoleArn === undefined) return { drop: 'the target names no RoleArn to invoke the API destination with' };
    if (!(await this.opts.mayInvoke(target.RoleArn, dest.Arn, ruleArn(regionOf(key), accountOf(key), rule)))) {
      return { drop: `the role ${target.RoleArn} may not events:InvokeApiDestination on ${dest.Arn}` };
    }
    const connName = /:connection\/([^/]+)\//.exec(dest.ConnectionArn)?.[1];
    const connRow = connName === undefined ? undefined : await meta.eventResources.get(key, 'connection', connName);
    const conn = connRow && (JSON.parse(connRow.document) as ConnectionDoc);
    if (!conn || conn.Arn !== dest.ConnectionArn) return { drop: 'the connection was deleted' };
    return { target, dest, conn, secrets: JSON.parse(this.opts.secrets.open(conn.Sealed)) as ConnectionSecrets };
  }

  /** Sends the event (or the target's constant Input); may throw on a network failure. */
  async send({ target, dest, conn, secrets }: Resolved, event: string): Promise<Outcome> {
    const wait = this.takeToken(dest);
    if (wait > 0) return { retryAfterMs: wait };

    const url = new URL(dest.InvocationEndpoint);
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', 'user-agent': USER_AGENT };
    applyParameters(url, headers, conn.Public.InvocationHttpParameters);
    applyParameters(url, headers, target.HttpParameters);
    if (conn.AuthorizationType === 'API_KEY') headers[conn.Public.ApiKeyName!.toLowerCase()] = secrets.apiKeyValue!;
    else if (conn.AuthorizationType === 'BASIC')
      headers.authorization = `Basic ${Buffer.from(`${conn.Public.Username}:${secrets.password}`).toString('base64')}`;
    else headers.authorization = `Bearer ${await this.oauthToken(conn, secrets)}`;

    const method = dest.HttpMethod;
    const body = method !== 'GET' && method !== 'HEAD' ? (target.Input ?? event) : undefined;
    const status = await this.out.send(url, method, headers, body, REQUEST_TIMEOUT_MS);
    if (status >= 200 && status < 300) return { ok: true };
    if (status === 401 && conn.AuthorizationType === 'OAUTH_CLIENT_CREDENTIALS') this.tokens.delete(conn.Arn);
    // EventBridge retries what may pass later, and drops what will not.
    if (status >= 500 || [401, 407, 409, 429].includes(status)) return { error: `HTTP ${status}` };
    return { drop: `the endpoint answered HTTP ${status}` };
  }

  /** A token of the destination's bucket (InvocationRateLimitPerSecond, per node); else ms until one. */
  private takeToken(dest: ApiDestinationDoc): number {
    const now = this.opts.clock.now().getTime();
    const rate = dest.InvocationRateLimitPerSecond;
    const b = this.buckets.get(dest.Arn) ?? { tokens: rate, at: now };
    b.tokens = Math.min(rate, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    this.buckets.set(dest.Arn, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) / rate) * 1000);
  }

  /** OAuth client credentials: a token from the authorization endpoint, kept until shortly before it expires. */
  private async oauthToken(conn: ConnectionDoc, secrets: ConnectionSecrets): Promise<string> {
    const now = this.opts.clock.now().getTime();
    const cached = this.tokens.get(conn.Arn);
    if (cached && cached.until > now) return cached.token;
    const pub = conn.Public;
    const url = new URL(pub.AuthorizationEndpoint!);
    const headers: Record<string, string> = {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(pub.ClientID!)}:${encodeURIComponent(secrets.clientSecret!)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
      'user-agent': USER_AGENT,
    };
    applyParameters(url, headers, { ...pub.OAuthHttpParameters, BodyParameters: undefined });
    const form = new URLSearchParams();
    const body = pub.OAuthHttpParameters?.BodyParameters ?? [];
    if (!body.some((b) => b.Key === 'grant_type')) form.set('grant_type', 'client_credentials');
    for (const b of body) form.set(b.Key, b.Value);
    const method = pub.HttpMethod ?? 'POST';
    if (method === 'GET') for (const [k, v] of form) url.searchParams.set(k, v);
    const res = await this.fetch(url, {
      method,
      headers,
      ...(method !== 'GET' && { body: form.toString() }),
      redirect: 'manual',
      signal: AbortSignal.any([AbortSignal.timeout(REQUEST_TIMEOUT_MS), this.opts.signal]),
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`the OAuth authorization endpoint answered HTTP ${res.status}`);
    }
    const json = (await res.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown };
    if (typeof json.access_token !== 'string') throw new Error('the OAuth authorization endpoint returned no access_token');
    const ttl = typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in * 1000 : 3600_000;
    this.tokens.set(conn.Arn, { token: json.access_token, until: now + Math.max(0, ttl - 30_000) });
    return json.access_token;
  }
}

function applyParameters(url: URL, headers: Record<string, string>, p: HttpParameters | undefined): void {
  for (const h of p?.HeaderParameters ?? []) headers[h.Key.toLowerCase()] = h.Value;
  for (const q of p?.QueryStringParameters ?? []) url.searchParams.set(q.Key, q.Value);
}
