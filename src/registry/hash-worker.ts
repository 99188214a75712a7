/**
 * A hashing thread of the HashPool: keeps the running hashes of the sessions bound to it and
 * feeds each the batches it is sent, in order, from the pool's shared slabs. Messages come and go
 * in arrays: one per turn of the sender's event loop.
 */
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import type { FromWorker, ToWorker } from './hash-protocol.js';

const port = parentPort;
if (!port) throw new Error('hash-worker.js runs as a worker thread of the hash pool');

const hashes = new Map<number, Hash>();
const slabs: SharedArrayBuffer[] = [];
let slotBytes = 0;
let slotsPerSlab = 1;

port.on('message', (batch: ToWorker[]) => {
  const out: FromWorker[] = [];
  for (const m of batch) handle(m, out);
  if (out.length > 0) port.postMessage(out);
});

function handle(m: ToWorker, out: FromWorker[]): void {
  switch (m.op) {
    case 'slab':
      slabs[m.index] = m.sab;
      slotBytes = m.slotBytes;
      slotsPerSlab = m.slots;
      break;
    case 'open':
      hashes.set(m.id, createHash(m.alg));
      break;
    case 'update': {
      const sab = slabs[Math.floor(m.slot / slotsPerSlab)]!;
      hashes.get(m.id)?.update(new Uint8Array(sab, (m.slot % slotsPerSlab) * slotBytes, m.len));
      out.push({ op: 'ack', id: m.id, slot: m.slot });
      break;
    }
    case 'digest': {
      const hash = hashes.get(m.id);
      hashes.delete(m.id);
      out.push({ op: 'digest', id: m.id, hex: hash?.digest('hex') });
      break;
    }
    case 'drop':
      hashes.delete(m.id);
      break;
  }
}
