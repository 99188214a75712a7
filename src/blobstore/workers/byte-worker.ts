/**
 * A byte thread (threads.ts): hands each message to the task its `kind` names. Messages arrive
 * in arrays, one per turn of the main thread's event loop, and replies leave the same way: all
 * the replies made while one array (or one turn of a task's own work) is handled go as one post.
 */
import { parentPort } from 'node:worker_threads';
import { openTask } from '../encrypted/open-task.js';
import { sealTask } from '../encrypted/seal-task.js';
import { hashTask } from './hash-task.js';
import { memoryTask } from './memory-task.js';
import { checkpointTask } from '../../core/sqlite-checkpoint.js';
import type { ThreadMessage } from './threads.js';

const port = parentPort;
if (!port) throw new Error('byte-worker.js runs as a worker thread of the byte threads');

let out: ThreadMessage[] = [];
let moved: ArrayBuffer[] = [];
/** Queues `m`; the ArrayBuffers in `transfer` move to the main thread with it instead of being copied. */
function reply(m: ThreadMessage, transfer?: ArrayBuffer[]): void {
  if (out.length === 0) queueMicrotask(flush);
  out.push(m);
  if (transfer) moved.push(...transfer);
}
function flush(): void {
  const batch = out;
  const transfer = moved;
  out = [];
  moved = [];
  if (batch.length > 0) port!.postMessage(batch, transfer);
}

const hashing = hashTask(reply);
const tasks: Record<string, (m: ThreadMessage) => void> = {
  hash: hashing.handle,
  open: openTask(reply),
  // An upload's hash and seal in one pass over its bytes.
  seal: sealTask(reply, hashing.hashOf),
  memory: memoryTask(reply),
  checkpoint: checkpointTask(reply) as (m: ThreadMessage) => void,
};

port.on('message', (batch: ThreadMessage[]) => {
  for (const m of batch) tasks[m.kind]?.(m);
});
