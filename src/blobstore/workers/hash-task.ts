/**
 * The hashing task of a byte thread: keeps the running hashes of the HashPool sessions bound to
 * this thread and feeds each the batches it is sent, in order, from the pool's shared slabs.
 */
import { createHash, type Hash } from 'node:crypto';
import type { FromWorker, ToWorker } from './hash-protocol.js';
import type { ThreadMessage } from './threads.js';

/** The task's handler, and its running hashes by session id (the sealing task feeds them too). */
export function hashTask(reply: (m: FromWorker) => void): { handle: (m: ThreadMessage) => void; hashOf: (id: number) => Hash | undefined } {
  const hashes = new Map<number, Hash>();
  const slabs: SharedArrayBuffer[] = [];
  let slotBytes = 0;
  let slotsPerSlab = 1;

  const handle = (message: ThreadMessage): void => {
    const m = message as ToWorker;
    switch (m.op) {
      case 'slab':
        slabs[m.index] = m.sab;
        slotBytes = m.slotBytes;
        slotsPerSlab = m.slots;
        break;
      case 'unslab':
        slabs.length = Math.min(slabs.length, m.keep);
        break;
      case 'open':
        hashes.set(m.id, createHash(m.alg));
        break;
      case 'update': {
        const sab = slabs[Math.floor(m.slot / slotsPerSlab)]!;
        hashes.get(m.id)?.update(new Uint8Array(sab, (m.slot % slotsPerSlab) * slotBytes, m.len));
        reply({ kind: 'hash', op: 'ack', id: m.id, slot: m.slot });
        break;
      }
      case 'digest': {
        const hash = hashes.get(m.id);
        hashes.delete(m.id);
        reply({ kind: 'hash', op: 'digest', id: m.id, hex: hash?.digest('hex') });
        break;
      }
      case 'drop':
        hashes.delete(m.id);
        break;
    }
  };
  return { handle, hashOf: (id) => hashes.get(id) };
}
