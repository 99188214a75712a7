/**
 * Delivers events to API destinations, at least once. Two steps, both over durable rows, so any
 * node may do either and a crash loses nothing:
 *
 *  1. fan-out: claim outbox rows (written by the changes' own transactions), match each event
 *     against the enabled rules of its registry, and replace the rows by one delivery job per
 *     matching target, in one transaction;
 *  2. delivery: claim delivery jobs and POST each event (or the target's constant Input) to its
 *     API destination with the connection's credentials, within the destination's rate limit.
 *     A failure is retried with exponential backoff and jitter; an event still undelivered 24 h
 *     after it happened is dropped, with a log line.
 *
 * Every delivery is its own job with its own timeout, so a failing target costs the others
 * nothing but a slot for at most the timeout, and pushes nothing at all (they only wrote a row).
 * Receivers de-duplicate on the event's `id`: a delivery may repeat after a crash or a timeout.
 */
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { JobRecord, MetadataStore } from '../metadata/types.js';
import type { ApiDestinationDoc, ConnectionDoc, ConnectionSecrets, HttpParameters, RuleDoc, TargetDoc } from './documents.js';
import { compilePattern, type EventMatcher } from './pattern.js';
import type { SecretBox } from './service.js';

export const EVENT_DELIVERY_JOB = 'event-delivery';

/** EventBridge retries for 24 hours, then gives up. */
export const RETRY_WINDOW_MS = 24 * 3600_000;
const BASE_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 5 * 60_000;
/** EventBridge's API destinations wait 5 seconds for an answer. */
const REQUEST_TIMEOUT_MS = 5000;
const OUTBOX_BATCH = 200;
const OUTBOX_LEASE_MS = 60_000;
const DELIVERY_LEASE_MS = 60_000;
/** How long a kick waits for more events before fanning out: pushes in a burst share one pass. */
const KICK_DELAY_MS = 20;
const USER_AGENT = 'Amazon/EventBridge/ApiDestinations';

export interface DeliveryPayload {
  registryId: string;
  rule: string;
  target: string;
  /** The event's id, for logs. */
  eventId: string;
  /** When the event was written (epoch ms): the retry window starts here. */
  at: number;
  body: string;
}

export interface DelivererOptions {
  meta: Pick<MetadataStore, 'eventOutbox' | 'eventResources' | 'jobs'>;
  clock: Clock;
  log: Logger;
  secrets: SecretBox;
  nodeId: string;
  /** Deliveries in flight at once on this node. */
  concurrency: number;
  /** How often an idle deliverer looks for work. */
  pollMs: number;
}

export class EventDeliverer {
  private timer: NodeJS.Timeout | undefined;
  private kickTimer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private polling = false;
  private again = false;
  private readonly patterns = new Map<string, EventMatcher>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly tokens = new Map<string, { token: string; until: number }>();

  constructor(private readonly opts: DelivererOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.poll(), this.opts.pollMs);
    this.timer.unref();
    this.poll();
  }

  /** Events were written: look soon (once for a burst). */
  kick(): void {
    if (this.kickTimer || this.abort.signal.aborted) return;
    this.kickTimer = setTimeout(() => {
      this.kickTimer = undefined;
      this.poll();
    }, KICK_DELAY_MS);
    this.kickTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.kickTimer) clearTimeout(this.kickTimer);
    this.timer = undefined;
    this.abort.abort();
    await Promise.all(this.inFlight);
  }

  /** Fans out and delivers until nothing is due; for tests and the CLI. */
  async drain(): Promise<void> {
    for (;;) {
      const fanned = await this.fanOut();
      const started = await this.deliverDue();
      await Promise.all(this.inFlight);
      if (fanned === 0 && started === 0) return;
    }
  }

  private poll(): void {
    if (this.abort.signal.aborted) return;
    if (this.polling) {
      this.again = true;
      return;
    }
    this.polling = true;
    void (async () => {
      try {
        while ((await this.fanOut()) > 0 && !this.abort.signal.aborted) {
          // a full batch: there may be more
        }
        await this.deliverDue();
      } catch (err) {
        this.opts.log.error({ err }, 'event delivery poll failed');
      } finally {
        this.polling = false;
        if (this.again) {
          this.again = false;
          this.poll();
        }
      }
    })();
  }

  /** One batch of the outbox into delivery jobs; returns how many rows it took. */
  private async fanOut(): Promise<number> {
    const { meta, clock, nodeId } = this.opts;
    const rows = await meta.eventOutbox.claim(nodeId, OUTBOX_LEASE_MS, OUTBOX_BATCH, clock.now());
    if (rows.length === 0) return 0;
    const rulesOf = new Map<string, Array<{ name: string; match: EventMatcher; targets: TargetDoc[] }>>();
    const deliveries = [];
    for (const row of rows) {
      let rules = rulesOf.get(row.registryId);
      if (!rules) {
        rules = await this.enabledRules(row.registryId);
        rulesOf.set(row.registryId, rules);
      }
      if (rules.length === 0) continue;
      const event = JSON.parse(row.body) as unknown;
      for (const rule of rules) {
        if (!rule.match(event)) continue;
        for (const t of rule.targets) {
          const payload: DeliveryPayload = {
            registryId: row.registryId,
            rule: rule.name,
            target: t.Id,
            eventId: row.id,
            at: row.createdAt.getTime(),
            body: row.body,
          };
          deliveries.push({ kind: EVENT_DELIVERY_JOB, payload });
        }
      }
    }
    await meta.eventOutbox.dispatch(
      rows.map((r) => r.seq),
      nodeId,
      deliveries,
      clock.now(),
    );
    return rows.length;
  }

  private async enabledRules(registryId: string): Promise<Array<{ name: string; match: EventMatcher; targets: TargetDoc[] }>> {
    const out = [];
    for (let after: string | undefined; ; ) {
      const page = await this.opts.meta.eventResources.list(registryId, 'rule', { limit: 500, ...(after !== undefined && { after }) });
      for (const r of page) {
        const doc = JSON.parse(r.document) as RuleDoc;
        if (doc.State !== 'ENABLED') continue;
        const targets = (await this.opts.meta.eventResources.targets(registryId, r.name)).map((t) => JSON.parse(t.document) as TargetDoc);
        if (targets.length > 0) out.push({ name: r.name, match: this.matcher(doc.EventPattern), targets });
      }
      if (page.length < 500) return out;
      after = page.at(-1)!.name;
    }
  }

  /** Compiled patterns, kept while they are in use (a rule's pattern was validated by PutRule). */
  private matcher(pattern: string): EventMatcher {
    let m = this.patterns.get(pattern);
    if (!m) {
      if (this.patterns.size >= 10_000) this.patterns.clear();
      m = compilePattern(pattern);
      this.patterns.set(pattern, m);
    }
    return m;
  }

  private async deliverDue(): Promise<number> {
    const room = this.opts.concurrency - this.inFlight.size;
    if (room <= 0) return 0;
    const { meta, clock, nodeId } = this.opts;
    const claimed = await meta.jobs.claim([EVENT_DELIVERY_JOB], nodeId, DELIVERY_LEASE_MS, room, clock.now());
    for (const job of claimed) {
      const p = this.run(job).finally(() => {
        this.inFlight.delete(p);
        // A slot came free: more may be due.
        this.kick();
      });
      this.inFlight.add(p);
    }
    return claimed.length;
  }

  private async run(job: JobRecord): Promise<void> {
    const { meta, clock, log, nodeId } = this.opts;
    const p = job.payload as DeliveryPayload;
    const context = { eventId: p.eventId, rule: p.rule, target: p.target, attempts: job.attempts };
    let outcome: { retryAfterMs?: number; error?: string; drop?: string };
    try {
      outcome = await this.deliver(p);
    } catch (err) {
      outcome = { error: err instanceof Error ? err.message : String(err) };
    }
    if (outcome.drop !== undefined) {
      log.warn({ ...context, reason: outcome.drop }, 'event not delivered: dropped');
      await meta.jobs.complete(job.id, nodeId);
      return;
    }
    if (outcome.error === undefined && outcome.retryAfterMs === undefined) {
      await meta.jobs.complete(job.id, nodeId);
      return;
    }
    const now = clock.now().getTime();
    const backoff = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** Math.min(job.attempts - 1, 20));
    const delay = outcome.retryAfterMs ?? backoff / 2 + Math.random() * (backoff / 2);
    const retryAt = now + delay;
    if (retryAt - p.at > RETRY_WINDOW_MS) {
      log.warn({ ...context, err: outcome.error }, 'event not delivered within 24 hours: dropped');
      await meta.jobs.complete(job.id, nodeId);
      return;
    }
    if (outcome.error !== undefined) log.info({ ...context, err: outcome.error, retryInMs: Math.round(delay) }, 'event delivery failed, will retry');
    await meta.jobs.fail(job.id, nodeId, outcome.error ?? 'rate limited', new Date(retryAt));
  }

  /** One attempt. */
  private async deliver(p: DeliveryPayload): Promise<{ retryAfterMs?: number; error?: string; drop?: string }> {
    const { meta } = this.opts;
    const targetRow = (await meta.eventResources.targets(p.registryId, p.rule)).find((t) => t.id === p.target);
    if (!targetRow) return { drop: 'the target was removed' };
    const target = JSON.parse(targetRow.document) as TargetDoc;
    const destName = /:api-destination\/([^/]+)\//.exec(target.Arn)?.[1];
    const destRow = destName === undefined ? undefined : await meta.eventResources.get(p.registryId, 'api-destination', destName);
    const dest = destRow && (JSON.parse(destRow.document) as ApiDestinationDoc);
    if (!dest || dest.Arn !== target.Arn) return { drop: 'the API destination was deleted' };
    const connName = /:connection\/([^/]+)\//.exec(dest.ConnectionArn)?.[1];
    const connRow = connName === undefined ? undefined : await meta.eventResources.get(p.registryId, 'connection', connName);
    const conn = connRow && (JSON.parse(connRow.document) as ConnectionDoc);
    if (!conn || conn.Arn !== dest.ConnectionArn) return { drop: 'the connection was deleted' };

    const wait = this.takeToken(dest);
    if (wait > 0) return { retryAfterMs: wait };

    const secrets = JSON.parse(this.opts.secrets.open(conn.Sealed)) as ConnectionSecrets;
    const url = new URL(dest.InvocationEndpoint);
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', 'user-agent': USER_AGENT };
    applyParameters(url, headers, conn.Public.InvocationHttpParameters);
    applyParameters(url, headers, target.HttpParameters);
    if (conn.AuthorizationType === 'API_KEY') headers[conn.Public.ApiKeyName!.toLowerCase()] = secrets.apiKeyValue!;
    else if (conn.AuthorizationType === 'BASIC')
      headers.authorization = `Basic ${Buffer.from(`${conn.Public.Username}:${secrets.password}`).toString('base64')}`;
    else headers.authorization = `Bearer ${await this.oauthToken(conn, secrets)}`;

    const method = dest.HttpMethod;
    const res = await fetch(url, {
      method,
      headers,
      ...(method !== 'GET' && method !== 'HEAD' && { body: target.Input ?? p.body }),
      redirect: 'manual',
      signal: AbortSignal.any([AbortSignal.timeout(REQUEST_TIMEOUT_MS), this.abort.signal]),
    });
    await res.body?.cancel();
    if (res.ok) return {};
    if (res.status === 401 && conn.AuthorizationType === 'OAUTH_CLIENT_CREDENTIALS') this.tokens.delete(conn.Arn);
    // EventBridge retries what may pass later, and drops what will not.
    if (res.status >= 500 || [401, 407, 409, 429].includes(res.status)) return { error: `HTTP ${res.status}` };
    return { drop: `the endpoint answered HTTP ${res.status}` };
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
    const res = await fetch(url, {
      method,
      headers,
      ...(method !== 'GET' && { body: form.toString() }),
      redirect: 'manual',
      signal: AbortSignal.any([AbortSignal.timeout(REQUEST_TIMEOUT_MS), this.abort.signal]),
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
