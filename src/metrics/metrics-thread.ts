/**
 * The metrics listener's thread: its HTTP server runs in an isolate of its own and asks the event
 * loop only for each scrape's text. On the event loop, the scrapes' requests, responses and
 * sockets (another server's, without the API's per-request additions) reached the node http and
 * stream functions the API's requests run through, with other maps: V8 deoptimized the API's
 * compiled code for them ("wrong map": parserOnIncoming, _storeHeader, _send, writevGeneric...)
 * and recompiled it for both, which every manifest GET paid afterwards
 * (notes/2026-12-05-s19-jit.md).
 */
import { createServer } from 'node:http';
import { parentPort } from 'node:worker_threads';
import type { ScrapeAnswer, ToMetricsThread } from './metrics-server.js';

/** A scrape reads a few small queries; a client that takes longer than this is dropped. */
const REQUEST_TIMEOUT_MS = 30_000;
/** As the API's answers (http/server.ts): a browser pointed at the port never sniffs the text as markup. */
const NOSNIFF = { 'x-content-type-options': 'nosniff' };

let next = 0;
const waiting = new Map<number, (a: ScrapeAnswer) => void>();
const scrape = () =>
  new Promise<ScrapeAnswer>((resolve) => {
    const id = next++;
    waiting.set(id, resolve);
    parentPort!.postMessage({ scrape: id });
  });

const server = createServer({ requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: REQUEST_TIMEOUT_MS }, (req, res) => {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
    res.writeHead(404, { ...NOSNIFF, 'content-type': 'text/plain; charset=utf-8' }).end('not found: metrics are at GET /metrics\n');
    return;
  }
  void scrape().then((a) => {
    if (a.body === undefined) {
      res.writeHead(500, { ...NOSNIFF, 'content-type': 'text/plain; charset=utf-8' }).end('metrics unavailable\n');
      return;
    }
    res.writeHead(200, { ...NOSNIFF, 'content-type': a.contentType, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : a.body);
  });
});

parentPort!.on('message', (m: ToMetricsThread) => {
  if (m === 'close') {
    server.close();
    server.closeAllConnections();
    parentPort!.close();
  } else if ('answer' in m) {
    const resolve = waiting.get(m.answer.id);
    waiting.delete(m.answer.id);
    resolve?.(m.answer);
  } else {
    server.once('error', (err: NodeJS.ErrnoException) => parentPort!.postMessage({ listenError: err.message, code: err.code }));
    server.listen(m.listen.port, m.listen.host, () => {
      const addr = server.address();
      parentPort!.postMessage({ listening: typeof addr === 'object' && addr ? addr.port : m.listen.port });
    });
  }
});
