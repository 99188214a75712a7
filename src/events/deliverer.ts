/**
 * Delivers events to API destinations, at least once, from the outbox the changes' own
 * transactions wrote. Any node may do the work, and a crash loses nothing:
 *
 *  1. a batch of outbox rows is claimed (locked for a lease: another node skips them), each
 *     event is matched against the enabled rules of its registry, and every matching target is
 *     sent the event (or the target's constant Input) with the connection's credentials, within
 *     the destination's rate limit;
 *  2. then, in one transaction, the rows are removed and each delivery that failed and may
 *     pass later becomes a retry job (exponential backoff with jitter). A node that dies before
 *     that lets the lease lapse, and the batch is sent again (receivers de-duplicate on `id`);
 *  3. retry jobs are claimed and attempted like the first time, until 24 h after the event
 *     happened; then the event is dropped, with a log line.
 *
 * So a delivery that succeeds the first time costs two small write transactions per batch, not
 * per event, and a batch gathers the events of KICK_DELAY_MS. Every attempt has its own timeout
 * and runs beside the others, so a failing target costs the others nothing but the wait for
 * the batch's bookkeeping (at most the timeout), and costs pushes nothing (they wrote a row).
 */
import type { Telemetry } from '../core/telemetry.js';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import { parseRegistryKey, registryKeyText, type RegistryKey } from '../core/registry-key.js';
import type { JobRecord, JobRequest, MetadataStore } from '../metadata/types.js';
import type { ApiDestinationDoc, ConnectionDoc, ConnectionSecrets, HttpParameters, RuleDoc, TargetDoc } from './documents.js';
import { compilePattern, type EventMatcher } from './pattern.js';
import { outbound, type Outbound } from './outbound.js';
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
/** Batches being delivered at once; the next claim waits for one to finish. */
const MAX_BATCHES = 4;
/** How long a kick waits for more events before claiming: pushes in a burst share one batch. */
const KICK_DELAY_MS = 500;
const USER_AGENT = 'Amazon/EventBridge/ApiDestinations';

/** Persisted as a job's payload, so its field names are a stored format: keep them. */
export interface DeliveryPayload {
  /** The registry key's stored text ("account:region"). */
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
  /** Requests in flight at once on this node. */
  concurrency: number;
  /** How often an idle deliverer looks for work (events of other nodes, retries come due). */
  pollMs: number;
  /** Told of each attempt that failed (to be retried or dropped); none by default. */
  telemetry?: Pick<Telemetry, 'eventDeliveryFailed'>;
}

type Outcome = { ok: true } | { retryAfterMs: number } | { error: string } | { drop: string };

interface Resolved {
  target: TargetDoc;
  dest: ApiDestinationDoc;
  conn: ConnectionDoc;
  secrets: ConnectionSecrets;
}

export class EventDeliverer {
  private timer: NodeJS.Timeout | undefined;
  private kickTimer: NodeJS.Timeout | undefined;
  private readonly batches = new Set<Promise<void>>();
  private readonly retries = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private readonly out: Outbound = outbound();
  private polling = false;
  private again = false;
  private readonly patterns = new Map<string, EventMatcher>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly tokens = new Map<string, { token: string; until: number }>();
  /** Requests in flight (at most `concurrency`), and the attempts waiting for a slot. */
  private sending = 0;
  private readonly waiting: Array<() => void> = [];

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
    this.out.close();
    await Promise.all([...this.batches, ...this.retries]);
  }

  /** Delivers until nothing is due; for tests and the CLI. */
  async drain(): Promise<void> {
    for (;;) {
      const claimed = await this.fanOut();
      await Promise.all(this.batches);
      const retried = await this.retryDue();
      await Promise.all(this.retries);
      if (claimed === 0 && retried === 0) return;
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
        // Claim again at once only after a full batch: a claim is a write transaction (an fsync
        // on SQLite, on the event loop), and under steady pushes a claim that found rows would
        // find a few more each time, a commit for every event or two. A short batch drained the
        // outbox; what comes next is gathered by the next kick (KICK_DELAY_MS) or poll.
        while ((await this.fanOut()) >= OUTBOX_BATCH && !this.abort.signal.aborted) {
          if (this.batches.size >= MAX_BATCHES) await Promise.race(this.batches);
        }
        await this.retryDue();
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

  /** Claims a batch of the outbox and starts delivering it; returns how many rows it took. */
  private async fanOut(): Promise<number> {
    const { meta, clock, nodeId } = this.opts;
    const rows = await meta.eventOutbox.claim(nodeId, OUTBOX_LEASE_MS, OUTBOX_BATCH, clock.now());
    if (rows.length === 0) return 0;
    const rulesOf = new Map<RegistryKey, Array<{ name: string; match: EventMatcher; targets: TargetDoc[] }>>();
    const deliveries: DeliveryPayload[] = [];
    for (const row of rows) {
      let rules = rulesOf.get(row.registryKey);
      if (!rules) {
        rules = await this.enabledRules(row.registryKey);
        rulesOf.set(row.registryKey, rules);
      }
      if (rules.length === 0) continue;
      const event = JSON.parse(row.body) as unknown;
      for (const rule of rules) {
        if (!rule.match(event)) continue;
        for (const t of rule.targets) {
          deliveries.push({
            registryId: registryKeyText(row.registryKey),
            rule: rule.name,
            target: t.Id,
            eventId: row.id,
            at: row.createdAt.getTime(),
            body: row.body,
          });
        }
      }
    }
    const seqs = rows.map((r) => r.seq);
    const batch = (async () => {
      const resolved = new Map<string, Promise<Resolved | { drop: string }>>();
      const outcomes = await Promise.all(deliveries.map((d) => this.attempt(d, resolved)));
      const retry: JobRequest[] = [];
      outcomes.forEach((o, n) => {
        const at = this.settle(deliveries[n]!, o, 1);
        if (at) retry.push({ kind: EVENT_DELIVERY_JOB, payload: deliveries[n]!, runAfter: at });
      });
      await meta.eventOutbox.dispatch(seqs, nodeId, retry, clock.now());
    })()
      .catch((err: unknown) => this.opts.log.error({ err }, 'event batch not recorded; it is sent again when its lease lapses'))
      .finally(() => this.batches.delete(batch));
    this.batches.add(batch);
    return rows.length;
  }

  private async enabledRules(key: RegistryKey): Promise<Array<{ name: string; match: EventMatcher; targets: TargetDoc[] }>> {
    const out = [];
    for (let after: string | undefined; ; ) {
      const page = await this.opts.meta.eventResources.list(key, 'rule', { limit: 500, ...(after !== undefined && { after }) });
      for (const r of page) {
        const doc = JSON.parse(r.document) as RuleDoc;
        if (doc.State !== 'ENABLED') continue;
        const targets = (await this.opts.meta.eventResources.targets(key, r.name)).map((t) => JSON.parse(t.document) as TargetDoc);
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

  /** Claims retry jobs that are due and attempts them; returns how many it took. */
  private async retryDue(): Promise<number> {
    const room = this.opts.concurrency - this.retries.size;
    if (room <= 0) return 0;
    const { meta, clock, nodeId } = this.opts;
    const claimed = await meta.jobs.claim([EVENT_DELIVERY_JOB], nodeId, DELIVERY_LEASE_MS, room, clock.now());
    for (const job of claimed) {
      const p = this.retry(job).finally(() => {
        this.retries.delete(p);
        // A slot came free: more may be due.
        this.kick();
      });
      this.retries.add(p);
    }
    return claimed.length;
  }

  private async retry(job: JobRecord): Promise<void> {
    const { meta, nodeId } = this.opts;
    const p = job.payload as DeliveryPayload;
    const outcome = await this.attempt(p);
    // The first attempt was made from the outbox: this job's nth attempt is the event's n+1th.
    const at = this.settle(p, outcome, job.attempts + 1);
    if (at) await meta.jobs.fail(job.id, nodeId, 'error' in outcome ? outcome.error : 'rate limited', at);
    else await meta.jobs.complete(job.id, nodeId);
  }

  /** What becomes of a delivery after an attempt: undefined when done with (sent or dropped), else when to try again. */
  private settle(p: DeliveryPayload, outcome: Outcome, attempts: number): Date | undefined {
    const context = { eventId: p.eventId, rule: p.rule, target: p.target, attempts };
    if ('ok' in outcome) return undefined;
    // Held back by the destination's own rate limit is not a failure.
    if (!('retryAfterMs' in outcome)) this.opts.telemetry?.eventDeliveryFailed(p.target);
    if ('drop' in outcome) {
      this.opts.log.warn({ ...context, reason: outcome.drop }, 'event not delivered: dropped');
      return undefined;
    }
    const now = this.opts.clock.now().getTime();
    let delay: number;
    if ('retryAfterMs' in outcome) delay = outcome.retryAfterMs;
    else {
      const backoff = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** Math.min(attempts - 1, 20));
      delay = backoff / 2 + Math.random() * (backoff / 2);
    }
    if (now + delay - p.at > RETRY_WINDOW_MS) {
      this.opts.log.warn({ ...context, err: 'error' in outcome ? outcome.error : undefined }, 'event not delivered within 24 hours: dropped');
      return undefined;
    }
    if ('error' in outcome) this.opts.log.info({ ...context, err: outcome.error, retryInMs: Math.round(delay) }, 'event delivery failed, will retry');
    return new Date(now + delay);
  }

  /** One attempt, in a request slot; never throws. */
  private async attempt(p: DeliveryPayload, resolved?: Map<string, Promise<Resolved | { drop: string }>>): Promise<Outcome> {
    // A slot is taken, or handed over by the attempt that frees it.
    if (this.sending >= this.opts.concurrency) await new Promise<void>((r) => this.waiting.push(r));
    else this.sending++;
    try {
      return await this.deliver(p, resolved);
    } catch (err) {
      return { error: err instanceof Error ? err.message : String(err) };
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.sending--;
    }
  }

  /** The target, its destination and connection, with the connection's secrets; or why the delivery is moot. */
  private async resolve(p: DeliveryPayload): Promise<Resolved | { drop: string }> {
    const { meta } = this.opts;
    const key = parseRegistryKey(p.registryId);
    const targetRow = (await meta.eventResources.targets(key, p.rule)).find((t) => t.id === p.target);
    if (!targetRow) return { drop: 'the target was removed' };
    const target = JSON.parse(targetRow.document) as TargetDoc;
    const destName = /:api-destination\/([^/]+)\//.exec(target.Arn)?.[1];
    const destRow = destName === undefined ? undefined : await meta.eventResources.get(key, 'api-destination', destName);
    const dest = destRow && (JSON.parse(destRow.document) as ApiDestinationDoc);
    if (!dest || dest.Arn !== target.Arn) return { drop: 'the API destination was deleted' };
    const connName = /:connection\/([^/]+)\//.exec(dest.ConnectionArn)?.[1];
    const connRow = connName === undefined ? undefined : await meta.eventResources.get(key, 'connection', connName);
    const conn = connRow && (JSON.parse(connRow.document) as ConnectionDoc);
    if (!conn || conn.Arn !== dest.ConnectionArn) return { drop: 'the connection was deleted' };
    return { target, dest, conn, secrets: JSON.parse(this.opts.secrets.open(conn.Sealed)) as ConnectionSecrets };
  }

  /** `resolved`: the batch's lookups, shared by its deliveries to one target. */
  private async deliver(p: DeliveryPayload, resolved?: Map<string, Promise<Resolved | { drop: string }>>): Promise<Outcome> {
    const key = `${p.registryId}\n${p.rule}\n${p.target}`;
    let found = resolved?.get(key);
    if (!found) {
      found = this.resolve(p);
      resolved?.set(key, found);
    }
    const r = await found;
    if ('drop' in r) return r;
    const { target, dest, conn, secrets } = r;
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
    const body = method !== 'GET' && method !== 'HEAD' ? (target.Input ?? p.body) : undefined;
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
