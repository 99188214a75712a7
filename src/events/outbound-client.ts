/**
 * Deliveries sent from a thread of their own (outbound-thread.ts), so that no outbound HTTP runs
 * on the event loop's isolate: there it made the API's compiled node http code polymorphic. Same
 * contract as outbound(): the status, or a rejection on a network failure or timeout. The thread
 * starts with the first delivery, so a node with no rules never starts it.
 */
import { Worker } from 'node:worker_threads';
import type { ReachSettings } from '../core/outbound-reach.js';
import type { Outbound } from './outbound.js';

export interface OutboundAsk {
  id: number;
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
  timeoutMs: number;
}
export type OutboundAnswer = { id: number; status: number } | { id: number; error: string };

export function outboundThread(reach?: ReachSettings): Outbound {
  let worker: Worker | undefined;
  let closed = false;
  let next = 0;
  const pending = new Map<number, { resolve: (status: number) => void; reject: (err: Error) => void }>();
  const failAll = (why: string) => {
    for (const p of pending.values()) p.reject(new Error(why));
    pending.clear();
  };
  const start = () => {
    const w = new Worker(new URL('./outbound-thread.js', import.meta.url), { workerData: { reach } });
    // Only deliveries in flight keep the process alive for it (refCount below).
    w.unref();
    w.on('message', (a: OutboundAnswer) => {
      const p = pending.get(a.id);
      if (!p) return;
      pending.delete(a.id);
      if (pending.size === 0) w.unref();
      if ('error' in a) p.reject(new Error(a.error));
      else p.resolve(a.status);
    });
    w.on('error', (err) => failAll(`the deliveries' thread failed: ${err.message}`));
    w.on('exit', () => {
      if (worker === w) worker = undefined;
      failAll(closed ? 'the deliverer stopped' : "the deliveries' thread exited");
    });
    return w;
  };
  return {
    send(url, method, headers, body, timeoutMs) {
      if (closed) return Promise.reject(new Error('the deliverer stopped'));
      worker ??= start();
      const w = worker;
      const id = next++;
      return new Promise<number>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        if (pending.size === 1) w.ref();
        w.postMessage({ id, url: url.href, method, headers, body, timeoutMs } satisfies OutboundAsk);
      });
    },
    close() {
      closed = true;
      failAll('the deliverer stopped');
      worker?.unref();
      worker?.postMessage('close');
    },
  };
}
