/**
 * The metrics listener: a port of its own (metricsPort), apart from the API, so it can be kept
 * off the network clients reach and scraped without credentials. It serves GET /metrics in the
 * Prometheus text format and nothing else. Its HTTP server runs in a thread of its own
 * (metrics-thread.ts, where the reason is); each scrape's text is made here, where the metrics are.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { BerthMetrics } from './metrics.js';

export type ScrapeAnswer = { id: number; body: string; contentType: string } | { id: number; body?: undefined };
export type ToMetricsThread = { answer: ScrapeAnswer } | { listen: { port: number; host: string } } | 'close';
type FromMetricsThread = { scrape: number } | { listening: number } | { listenError: string; code?: string };

export interface MetricsListener {
  /** Listens on `port` (0: any) at `host`; answers the port bound, or rejects as server.listen fails. */
  listen(port: number, host: string): Promise<number>;
  /** Stops listening and drops open connections. */
  close(): void;
}

export function createMetricsServer(metrics: BerthMetrics, log: Logger): MetricsListener {
  let worker: Worker | undefined;
  const post = (m: ToMetricsThread) => worker?.postMessage(m);
  return {
    listen(port, host) {
      const w = new Worker(new URL('./metrics-thread.js', import.meta.url));
      worker = w;
      w.on('error', (err) => log.error({ err }, 'the metrics listener thread failed'));
      return new Promise<number>((resolve, reject) => {
        w.once('error', reject);
        w.on('message', (m: FromMetricsThread) => {
          if ('scrape' in m) {
            metrics.scrape().then(
              ({ body, contentType }) => post({ answer: { id: m.scrape, body, contentType } }),
              (err: unknown) => {
                log.error({ err }, 'metrics scrape failed');
                post({ answer: { id: m.scrape } });
              },
            );
          } else if ('listening' in m) {
            w.off('error', reject);
            // A listening server does not keep the process alive by itself (the API's does).
            w.unref();
            resolve(m.listening);
          } else {
            reject(Object.assign(new Error(m.listenError), { code: m.code }));
            post('close');
          }
        });
        w.postMessage({ listen: { port, host } } satisfies ToMetricsThread);
      });
    },
    close() {
      post('close');
      worker = undefined;
    },
  };
}
