/**
 * The per-request CPU cost of the metrics and usage observers alone, in-process and without the
 * network, so a busy machine's noise does not drown it: each observer is told of the same
 * manifest GET (and of a blob upload) a million times; prints nanoseconds per request. Compare
 * with a manifest GET's whole cost on the server (about 1 / (manifest GET req/s) of a core).
 *
 *   BENCH_ENTRY=metrics-observer bash bench/run.sh
 */
import { registryKey } from '../src/core/registry-key.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import pino from 'pino';
import { systemClock } from '../src/core/clock.js';
import type { RequestFacts, RequestObserver } from '../src/http/request-facts.js';
import type { UsageStore } from '../src/metadata/usage.js';
import { BerthMetrics } from '../src/metrics/metrics.js';
import { RequestMetrics } from '../src/metrics/request-metrics.js';
import { UsageRecorder } from '../src/metrics/usage-recorder.js';

const N = 1_000_000;
// Only scrapes and flushes touch the store; neither happens here.
const store = { addTransfer: async () => undefined } as unknown as UsageStore;
const req = { method: 'GET' } as IncomingMessage;
const res = { statusCode: 200 } as ServerResponse;
const facts = (name: string): RequestFacts => ({
  requestId: 'r',
  startedMs: performance.now(),
  closedAt: undefined,
  bytes: { sent: 1043, received: 0 },
  sourceIp: '127.0.0.1',
  operation: { api: 'oci', name },
  repository: { registryKey: registryKey('000000000000', 'us-east-1'), name: 'team/web' },
});

/** Each call as a fresh request's: the close time a request's observers share is read again. */
function nsPer(observer: RequestObserver, f: RequestFacts): number {
  for (let i = 0; i < 10_000; i++) {
    f.closedAt = undefined;
    observer.requestClosed(req, res, f); // warm up
  }
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    f.closedAt = undefined;
    observer.requestClosed(req, res, f);
  }
  return Number(process.hrtime.bigint() - t) / N;
}

const metrics = new RequestMetrics(new BerthMetrics({ usage: store, replication: { oldestPending: async () => [] }, clock: systemClock }).registry);
const usage = new UsageRecorder({ usage: store, clock: systemClock, log: pino({ level: 'silent' }) });
for (let round = 1; round <= 3; round++) {
  console.log(
    `round ${round}: metrics observer ${nsPer(metrics, facts('manifest-read')).toFixed(0)} ns (manifest GET), ${nsPer(metrics, facts('upload-write')).toFixed(0)} ns (upload); ` +
      `usage recorder ${nsPer(usage, facts('manifest-read')).toFixed(0)} ns (manifest GET)`,
  );
}
