/**
 * Request metrics: one more observer of each request's facts (http/request-facts.ts). It runs
 * once per request, so it builds no label strings there: each (api, operation) pair resolves its
 * label children once and keeps them, the status code's child is found by number. Labels stay
 * bounded: the operation is one Berth knows (an unknown action the client named counts as
 * 'unknown', past a cap 'other'), never a repository or a path; the per-repository pull counter
 * counts only answered manifest GETs (the repository exists), up to a cap of series.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Counter, Histogram } from 'prom-client';
import type { RequestFacts, RequestObserver } from '../http/request-facts.js';
import type { BerthMetrics } from './metrics.js';

/** Distinct operations per API before the rest count as 'other' (ECR has about 60 actions). */
const MAX_OPERATIONS_PER_API = 200;
/** Repositories with their own pull series before the rest count under '_other'. */
export const MAX_PULL_SERIES = 10_000;
/** Wire errors that mean the client named an operation that does not exist. */
const UNKNOWN_OPERATION = new Set(['UnknownOperationException', 'InvalidAction']);

class OperationSeries {
  private readonly byCode: Array<Counter.Internal | undefined> = [];
  private readonly byClass: Array<Histogram.Internal<string> | undefined> = [];
  readonly received: Counter.Internal;
  readonly sent: Counter.Internal;

  constructor(
    private readonly m: BerthMetrics,
    private readonly api: string,
    private readonly operation: string,
  ) {
    this.received = m.received.labels(api, operation);
    this.sent = m.sent.labels(api, operation);
  }

  requests(code: number): Counter.Internal {
    const c = this.byCode[code];
    if (c) return c;
    return (this.byCode[code] = this.m.requests.labels(this.api, this.operation, String(code)));
  }

  duration(code: number): Histogram.Internal<string> {
    const k = Math.floor(code / 100);
    const h = this.byClass[k];
    if (h) return h;
    return (this.byClass[k] = this.m.duration.labels(this.api, this.operation, `${k}xx`));
  }
}

export class RequestMetrics implements RequestObserver {
  private readonly apis = new Map<string, Map<string, OperationSeries>>();
  private readonly pullSeries = new Map<string, Map<string, Counter.Internal>>();
  private pullSeriesCount = 0;

  constructor(private readonly metrics: BerthMetrics) {}

  requestClosed(req: IncomingMessage, res: ServerResponse, facts: Readonly<RequestFacts>): void {
    const code = res.statusCode >= 100 && res.statusCode < 600 ? res.statusCode : 0;
    const series = this.seriesOf(facts);
    series.requests(code).inc();
    series.duration(code).observe(Number(process.hrtime.bigint() - facts.startedNs) / 1e9);
    if (facts.bytes.received > 0) series.received.inc(facts.bytes.received);
    if (facts.bytes.sent > 0) series.sent.inc(facts.bytes.sent);
    if (code === 200 && facts.repository !== undefined && facts.operation?.name === 'manifest-read' && req.method === 'GET') {
      this.pullCounter(facts.repository.registryId, facts.repository.name).inc();
    }
  }

  private seriesOf(facts: Readonly<RequestFacts>): OperationSeries {
    const api = facts.operation?.api ?? 'other';
    let name = facts.operation?.name ?? 'other';
    if (facts.error !== undefined && UNKNOWN_OPERATION.has(facts.error.code)) name = 'unknown';
    let ops = this.apis.get(api);
    if (!ops) this.apis.set(api, (ops = new Map()));
    let s = ops.get(name);
    if (!s) {
      if (ops.size >= MAX_OPERATIONS_PER_API) name = 'other';
      s = ops.get(name) ?? new OperationSeries(this.metrics, api, name);
      ops.set(name, s);
    }
    return s;
  }

  private pullCounter(registryId: string, repository: string): Counter.Internal {
    let repos = this.pullSeries.get(registryId);
    if (!repos) this.pullSeries.set(registryId, (repos = new Map()));
    let c = repos.get(repository);
    if (!c) {
      const name = this.pullSeriesCount < MAX_PULL_SERIES ? repository : '_other';
      c = repos.get(name) ?? this.metrics.pulls.labels(registryId, name);
      if (name === repository) this.pullSeriesCount++;
      repos.set(name, c);
    }
    return c;
  }
}
