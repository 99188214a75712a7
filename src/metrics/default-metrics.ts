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
 */
import { createRequire } from 'node:module';
import type { Registry } from 'prom-client';

const load = createRequire(import.meta.url);

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
    // prom-client's default precision, as collectDefaultMetrics passes it.
    collect(registry, { eventLoopMonitoringPrecision: 10 });
  }
}
