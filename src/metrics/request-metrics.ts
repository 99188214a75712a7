/**
 * Request metrics: one more observer of each request's facts (http/request-facts.ts). It runs
 * once per request, so it only adds to plain numbers there: each (api, operation) pair owns its
 * counters, found through two map lookups, the status code's by number; nothing is hashed or
 * formatted until a scrape reads them (prom-client's labelled children hash their labels on
 * every increment, several microseconds a request, which is why these families are kept here and
 * handed to prom-client's registry as ready values).
 *
 * Labels stay bounded: the operation is one Berth knows (an unknown action the client named
 * counts as 'unknown', past a cap 'other'), never a repository or a path; the per-repository pull
 * counter counts only answered manifest GETs (the repository exists), up to a cap of series.
 */
import { registryKeyText } from '../core/registry-key.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metric } from 'prom-client';
import { EcrCodes, IamCodes } from '../core/errors.js';
import { answeredStatus, type RequestFacts, type RequestObserver } from '../http/request-facts.js';

/** Request latency buckets, seconds: a manifest GET is milliseconds, a large layer minutes. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
/** Distinct operations per API before the rest count as 'other' (ECR has about 60 actions). */
const MAX_OPERATIONS_PER_API = 200;
/** Repositories with their own pull series before the rest count under '_other'. */
export const MAX_PULL_SERIES = 10_000;
/** Wire errors that mean the client named an operation that does not exist. */
const UNKNOWN_OPERATION = new Set([EcrCodes.UnknownOperation.code, IamCodes.InvalidAction.code]);

interface Latency {
  /** Per bucket (not cumulative); the last is above every bound. */
  buckets: number[];
  sum: number;
  count: number;
}

class OperationSeries {
  /** Requests by status code (index), and latency by status class (index 1..5). */
  readonly byCode: number[] = [];
  readonly byClass: Array<Latency | undefined> = [];
  received = 0;
  sent = 0;

  constructor(
    readonly api: string,
    readonly operation: string,
  ) {}

  record(code: number, seconds: number, received: number, sent: number): void {
    this.byCode[code] = (this.byCode[code] ?? 0) + 1;
    const k = Math.floor(code / 100);
    let l = this.byClass[k];
    if (!l) this.byClass[k] = l = { buckets: new Array<number>(LATENCY_BUCKETS.length + 1).fill(0), sum: 0, count: 0 };
    let b = 0;
    while (b < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[b]!) b++;
    l.buckets[b]!++;
    l.sum += seconds;
    l.count++;
    this.received += received;
    this.sent += sent;
  }
}

type Value = { value: number; labels: Record<string, string | number>; metricName?: string };

export class RequestMetrics implements RequestObserver {
  private readonly apis = new Map<string, Map<string, OperationSeries>>();
  private readonly pulls = new Map<string, Map<string, { n: number }>>();
  private pullSeries = 0;
  // The last request's series and pull counter, by what found them: a flood's next request names
  // the same, and two string comparisons are cheaper than two Map lookups that hash a fresh string.
  private lastApi: string | undefined;
  private lastName: string | undefined;
  private lastSeries: OperationSeries | undefined;
  private lastRegistry: string | undefined;
  private lastRepository: string | undefined;
  private lastPulls: { n: number } | undefined;

  /** Registers its families (berth_http_*, berth_repository_pulls_total) with `registry`. */
  constructor(registry: { registerMetric(m: Metric): void }) {
    const family = (name: string, help: string, type: 'counter' | 'histogram', values: () => Value[]) =>
      registry.registerMetric({
        name,
        help,
        type,
        aggregator: 'sum',
        get: async () => ({ name, help, type, aggregator: 'sum', values: values() }),
        reset: () => undefined,
      } as unknown as Metric);
    family('berth_http_requests_total', 'HTTP requests answered, by API (oci, ecr, ecr-public, iam, sts, kms, ...), operation and status code', 'counter', () =>
      this.each((s) => s.byCode.flatMap((n, code) => (n ? [{ value: n, labels: { api: s.api, operation: s.operation, code } }] : []))),
    );
    family(
      'berth_http_request_duration_seconds',
      'Time from a request arriving to its response closing, by API, operation and status class (2xx, 4xx, 5xx)',
      'histogram',
      () => this.each(histogramValues),
    );
    family('berth_http_received_bytes_total', 'Request body bytes read, by API and operation', 'counter', () =>
      this.each((s) => (s.received ? [{ value: s.received, labels: { api: s.api, operation: s.operation } }] : [])),
    );
    family('berth_http_sent_bytes_total', 'Response body bytes written, by API and operation', 'counter', () =>
      this.each((s) => (s.sent ? [{ value: s.sent, labels: { api: s.api, operation: s.operation } }] : [])),
    );
    family(
      'berth_repository_pulls_total',
      "Manifest GETs answered 200 on /v2, by registry and repository (ECR's RepositoryPullCount), counted by this node",
      'counter',
      () => [...this.pulls].flatMap(([registry_id, repos]) => [...repos].map(([repository, c]) => ({ value: c.n, labels: { registry_id, repository } }))),
    );
  }

  requestClosed(req: IncomingMessage, res: ServerResponse, facts: Readonly<RequestFacts>): void {
    const status = answeredStatus(res);
    const code = status >= 100 && status < 600 ? status : 0;
    this.seriesOf(facts).record(code, (performance.now() - facts.startedMs) / 1e3, facts.bytes.received, facts.bytes.sent);
    if (code === 200 && facts.repository !== undefined && facts.operation?.name === 'manifest-read' && req.method === 'GET') {
      this.pullCounter(registryKeyText(facts.repository.registryKey), facts.repository.name).n++;
    }
  }

  private each(values: (s: OperationSeries) => Value[]): Value[] {
    return [...this.apis.values()].flatMap((ops) => [...ops.values()].flatMap(values));
  }

  private seriesOf(facts: Readonly<RequestFacts>): OperationSeries {
    const api = facts.operation?.api ?? 'other';
    let name = facts.operation?.name ?? 'other';
    if (facts.error !== undefined && UNKNOWN_OPERATION.has(facts.error.code)) name = 'unknown';
    if (api === this.lastApi && name === this.lastName) return this.lastSeries!;
    this.lastApi = api;
    this.lastName = name;
    let ops = this.apis.get(api);
    if (!ops) this.apis.set(api, (ops = new Map()));
    let s = ops.get(name);
    if (!s) {
      if (ops.size >= MAX_OPERATIONS_PER_API) name = 'other';
      s = ops.get(name) ?? new OperationSeries(api, name);
      ops.set(name, s);
    }
    this.lastSeries = s;
    return s;
  }

  private pullCounter(keyText: string, repository: string): { n: number } {
    if (keyText === this.lastRegistry && repository === this.lastRepository) return this.lastPulls!;
    let repos = this.pulls.get(keyText);
    if (!repos) this.pulls.set(keyText, (repos = new Map()));
    let c = repos.get(repository);
    if (!c) {
      const name = this.pullSeries < MAX_PULL_SERIES ? repository : '_other';
      c = repos.get(name) ?? { n: 0 };
      if (name === repository) this.pullSeries++;
      repos.set(name, c);
    }
    this.lastRegistry = keyText;
    this.lastRepository = repository;
    this.lastPulls = c;
    return c;
  }
}

/** A series' histogram lines: cumulative buckets (le), sum and count, per status class. */
function histogramValues(s: OperationSeries): Value[] {
  const out: Value[] = [];
  s.byClass.forEach((l, k) => {
    if (!l) return;
    const labels = { api: s.api, operation: s.operation, status_class: `${k}xx` };
    let cumulative = 0;
    l.buckets.forEach((n, b) => {
      cumulative += n;
      const le = b < LATENCY_BUCKETS.length ? LATENCY_BUCKETS[b]! : '+Inf';
      out.push({ metricName: 'berth_http_request_duration_seconds_bucket', value: cumulative, labels: { le, ...labels } });
    });
    out.push({ metricName: 'berth_http_request_duration_seconds_sum', value: l.sum, labels });
    out.push({ metricName: 'berth_http_request_duration_seconds_count', value: l.count, labels });
  });
  return out;
}
