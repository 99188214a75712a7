/**
 * The deliveries' thread: sends each delivery on node:http(s) (outbound.ts) in an isolate of its
 * own and answers its status. Run on the event loop, the deliveries' ClientRequests and their
 * responses and sockets reached the same node http and stream functions the API's requests run
 * through, with other maps: V8 then deoptimized the API's compiled node http code ("wrong map":
 * setHeader, _storeHeader, _send, _flushOutput, Socket._writeGeneric...) and recompiled it for
 * both kinds, which every manifest GET paid afterwards (notes/2026-12-05-s19-jit.md).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ReachSettings } from '../core/outbound-reach.js';
import { outbound } from './outbound.js';
import type { OutboundAnswer, OutboundAsk } from './outbound-client.js';

const out = outbound((workerData as { reach?: ReachSettings } | undefined)?.reach);
parentPort!.on('message', (m: OutboundAsk | 'close') => {
  if (m === 'close') {
    out.close();
    parentPort!.close();
    return;
  }
  out.send(new URL(m.url), m.method, m.headers, m.body, m.timeoutMs).then(
    (status) => parentPort!.postMessage({ id: m.id, status } satisfies OutboundAnswer),
    (err: unknown) => parentPort!.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err) } satisfies OutboundAnswer),
  );
});
