/**
 * Delivers events to API destinations, at least once, from the outbox the changes' own
 * transactions wrote. Any node may do the work, and a crash loses nothing:
 *
 *  1. a batch of outbox rows is claimed (locked for a lease: another node skips them), each
 *     event is matched against the enabled rules of its registry, and every matching target is
 *     sent the event (destination-sender.ts: credentials, rate limit, what an answer means);
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
import type { ReachSettings } from '../core/outbound-reach.js';
import { halfShare, KeyedSlots } from '../core/keyed-slots.js';
import { accountOf, parseRegistryKey, registryKeyText, type RegistryKey } from '../core/registry-key.js';
import type { JobRecord, JobRequest, MetadataStore } from '../metadata/types.js';
import { DestinationSender, type MayInvoke, type Outcome, type Resolved } from './destination-sender.js';
import type { RuleDoc, TargetDoc } from './documents.js';
import { compilePattern, type EventMatcher } from './pattern.js';
import type { SecretBox } from './service.js';

export const EVENT_DELIVERY_JOB = 'event-delivery';

/** EventBridge retries for 24 hours, then gives up. */
export const RETRY_WINDOW_MS = 24 * 3600_000;
const BASE_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 5 * 60_000;
const OUTBOX_BATCH = 200;
const OUTBOX_LEASE_MS = 60_000;
const DELIVERY_LEASE_MS = 60_000;
/** Batches being delivered at once; the next claim waits for one to finish. */
const MAX_BATCHES = 4;
/** How long a kick waits for more events before claiming: pushes in a burst share one batch. */
const KICK_DELAY_MS = 500;

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
  /** Where API destinations may be reached (outboundAllow/outboundDeny); the defaults when absent. */
  reach?: ReachSettings;
  /** Whether a target's role may invoke its API destination (destination-sender.ts). */
  mayInvoke: MayInvoke;
  /** Told of each attempt that failed (to be retried or dropped); none by default. */
  telemetry?: Pick<Telemetry, 'eventDeliveryFailed'>;
}

export class EventDeliverer {
  private timer: NodeJS.Timeout | undefined;
  private kickTimer: NodeJS.Timeout | undefined;
  private readonly batches = new Set<Promise<void>>();
  private readonly retries = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private polling = false;
  private again = false;
  private readonly patterns = new Map<string, EventMatcher>();
  /**
   * Requests in flight: at most `concurrency`, and half of them for one account, so an account
   * whose targets hang (each attempt holds its slot for the request timeout) cannot hold up
   * every account's deliveries.
   */
  private readonly slots: KeyedSlots;

  private readonly sender: DestinationSender;

  constructor(private readonly opts: DelivererOptions) {
    this.slots = new KeyedSlots(opts.concurrency, halfShare(opts.concurrency));
    this.sender = new DestinationSender({
      meta: opts.meta,
      clock: opts.clock,
      secrets: opts.secrets,
      signal: this.abort.signal,
      ...(opts.reach && { reach: opts.reach }),
      mayInvoke: opts.mayInvoke,
    });
  }

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
    this.sender.close();
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
        if (at)
          retry.push({ kind: EVENT_DELIVERY_JOB, account: accountOf(parseRegistryKey(deliveries[n]!.registryId)), payload: deliveries[n]!, runAfter: at });
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
    // The account is the stored key's text before ':' (read without parsing: this never throws).
    const release = await this.slots.take(p.registryId.split(':', 1)[0]!);
    try {
      return await this.deliver(p, resolved);
    } catch (err) {
      return { error: err instanceof Error ? err.message : String(err) };
    } finally {
      release();
    }
  }

  /** `resolved`: the batch's lookups, shared by its deliveries to one target. */
  private async deliver(p: DeliveryPayload, resolved?: Map<string, Promise<Resolved | { drop: string }>>): Promise<Outcome> {
    const key = `${p.registryId}\n${p.rule}\n${p.target}`;
    let found = resolved?.get(key);
    if (!found) {
      found = this.sender.resolve(parseRegistryKey(p.registryId), p.rule, p.target);
      resolved?.set(key, found);
    }
    const r = await found;
    if ('drop' in r) return r;
    return this.sender.send(r, p.body);
  }
}
