/**
 * The downloads' bounds as Prometheus series: what each download budget holds and its bound,
 * downloads waiting for room, those that waited, those refused (429 TOOMANYREQUESTS), the lean
 * rings granted, and connections closed by maxConnectionsPerSource. Read from the budgets'
 * counters at each scrape (the scrape runs on the event loop; metrics-thread.ts only serves it),
 * so a download pays nothing for them. Named in the README ("Metrics").
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { MetricSources } from './metrics.js';

type Budgets = NonNullable<MetricSources['budgets']>;

export function registerDownloadMetrics(registry: Registry, sources: Pick<MetricSources, 'budgets' | 'sourceRefusals'>): void {
  const { budgets, sourceRefusals } = sources;
  if (budgets) {
    const each = (fn: (name: keyof Budgets, b: Budgets[keyof Budgets]) => void) => {
      for (const name of ['blobs', 'manifests'] as const) fn(name, budgets[name]);
    };
    new Gauge({
      name: 'berth_download_buffer_bytes',
      help: 'Bytes downloads in flight hold of their budget now (blobs: downloadBufferBytes; manifests: manifestBufferBytes)',
      labelNames: ['budget'] as const,
      registers: [registry],
      collect() {
        each((name, b) => this.set({ budget: name }, b.held));
      },
    });
    new Gauge({
      name: 'berth_download_buffer_limit_bytes',
      help: 'The bound on berth_download_buffer_bytes, by budget',
      labelNames: ['budget'] as const,
      registers: [registry],
      collect() {
        each((name, b) => this.set({ budget: name }, b.bytes));
      },
    });
    new Gauge({
      name: 'berth_download_waiters',
      help: 'Downloads waiting now for room in their budget (at most 5 s each, then refused)',
      labelNames: ['budget'] as const,
      registers: [registry],
      collect() {
        each((name, b) => this.set({ budget: name }, b.waiters));
      },
    });
    counter(registry, 'berth_download_waits_total', 'Downloads that found no room in their budget at once and waited (then served or refused)', (set) =>
      each((name, b) => set({ budget: name }, b.waited)),
    );
    counter(registry, 'berth_download_refusals_total', 'Downloads refused for want of room in their budget (429 TOOMANYREQUESTS with Retry-After)', (set) =>
      each((name, b) => set({ budget: name }, b.refused)),
    );
    counter(
      registry,
      'berth_download_lean_rings_total',
      "Blob downloads given the lean shape (an encrypted download's two-chunk ring, an S3 relay's 64 KiB slabs) because full ones held half the budget",
      (set) => set({ budget: 'blobs' }, budgets.blobs.leanGrants),
    );
  }
  if (sourceRefusals) {
    counter(
      registry,
      'berth_connections_refused_per_source_total',
      'Connections closed as they arrived because their address had maxConnectionsPerSource open',
      (set) => set({}, sourceRefusals()),
    );
  }
}

/** A counter whose totals are kept elsewhere and read at each scrape. */
function counter(registry: Registry, name: string, help: string, read: (set: (labels: Record<string, string>, total: number) => void) => void): void {
  const labelNames = name.startsWith('berth_download_') ? ['budget'] : [];
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      read((labels, total) => this.inc(labels, total));
    },
  });
}
