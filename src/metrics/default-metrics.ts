/**
 * prom-client's default metrics (process CPU and memory, file descriptors, event-loop lag,
 * handles, requests, resources, heap, version) but for its GC duration histogram
 * (nodejs_gc_duration_seconds). That one watches every V8 collection through a perf_hooks 'gc'
 * PerformanceObserver, and with any such observer a manifest GET's objects get promoted to the
 * old generation about ten times as often (--trace-gc-nvp in the server at a paced 1,500 GETs/s:
 * 150-200 promoted bytes a GET against 11-16, the same with a bare observer and no
 * prom-client), which the old generation's collector pays for later. Berth's own GC and lifecycle
 * passes keep their metrics. prom-client has no switch for one default, so its modules (as
 * listed in its lib/defaultMetrics.js) are called one by one.
 *
 * The event-loop delay histogram (nodejs_eventloop_lag_{min,...,p99}_seconds) samples every
 * LAG_SAMPLE_MS, not prom-client's 10 ms. Each sample is a timer that wakes the loop, and waking
 * an otherwise idle loop cost about 65 µs of CPU on the shared test machine: at 10 ms, 6-9 ms of
 * CPU a second whether or not anything was served (an idle server: 8-10 against 2 ms/s with
 * metrics off), about 4 µs a manifest GET at 1,500 GETs/s; at 100 ms about 1 ms a second. The
 * figures mean the same (how late a timer fired, since the last scrape); a stall is caught by a
 * sample with a chance in proportion to its length, so a 15 s scrape interval's percentiles now
 * rest on 150 samples, not 1,500. nodejs_eventloop_lag_seconds (timed at each scrape) is as it was.
 */
import { createRequire } from 'node:module';
import type { Registry } from 'prom-client';

const load = createRequire(import.meta.url);

/** How often the event-loop delay is sampled, ms (prom-client's default is 10). */
export const LAG_SAMPLE_MS = 100;

const DEFAULTS_BUT_GC = [
  'processCpuTotal',
  'processStartTime',
  'osMemoryHeap',
  'processOpenFileDescriptors',
  'processMaxFileDescriptors',
  'eventLoopLag',
  'processResources',
  'processHandles',
  'processRequests',
  'heapSizeAndUsed',
  'heapSpacesSizeAndUsed',
  'version',
];

export function collectDefaultMetricsButGc(registry: Registry): void {
  for (const name of DEFAULTS_BUT_GC) {
    const collect = load(`prom-client/lib/metrics/${name}`) as (registry: Registry, config: { eventLoopMonitoringPrecision: number }) => void;
    collect(registry, { eventLoopMonitoringPrecision: LAG_SAMPLE_MS });
  }
}
