/**
 * The metrics listener: a port of its own (metricsPort), apart from the API, so it can be kept
 * off the network clients reach and scraped without credentials. It serves GET /metrics in the
 * Prometheus text format and nothing else.
 */
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import type { BerthMetrics } from './metrics.js';

/** A scrape reads a few small queries; a client that takes longer than this is dropped. */
const REQUEST_TIMEOUT_MS = 30_000;

export function createMetricsServer(metrics: BerthMetrics, log: Logger): Server {
  const server = createServer({ requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: REQUEST_TIMEOUT_MS }, (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: metrics are at GET /metrics\n');
      return;
    }
    metrics.scrape().then(
      ({ body, contentType }) => {
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        log.error({ err }, 'metrics scrape failed');
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics unavailable\n');
      },
    );
  });
  return server;
}
