/**
 * A hashing thread of the HashPool: keeps the running hashes of the sessions bound to it and
 * feeds each the batches it is sent, in order. Every batch's memory goes back to the pool with
 * the acknowledgement, so the main thread reuses it instead of allocating.
 */
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import type { ToWorker } from './hash-protocol.js';

const port = parentPort;
if (!port) throw new Error('hash-worker.js runs as a worker thread of the hash pool');

const hashes = new Map<number, Hash>();

port.on('message', (m: ToWorker) => {
  switch (m.op) {
    case 'open':
      hashes.set(m.id, createHash(m.alg));
      break;
    case 'update':
      hashes.get(m.id)?.update(new Uint8Array(m.buf, 0, m.len));
      port.postMessage({ op: 'ack', id: m.id, buf: m.buf }, [m.buf]);
      break;
    case 'digest': {
      const hash = hashes.get(m.id);
      hashes.delete(m.id);
      port.postMessage({ op: 'digest', id: m.id, hex: hash?.digest('hex') });
      break;
    }
    case 'drop':
      hashes.delete(m.id);
      break;
  }
});
