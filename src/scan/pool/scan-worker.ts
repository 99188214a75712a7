/**
 * A scan worker thread's entry point: inventories the layers the pool streams in and posts the
 * result. Decompression, the tar reader, the merged view and the extractors all run here, off
 * the server's event loop (design decision 6); a worker serves one scan and is then ended.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { inventoryOf } from '../inventory/inventory.js';
import { toScanError } from '../layers/errors.js';
import { LayerInbox } from './layer-inbox.js';
import { serializeScanError, type FromWorker, type ToWorker, type WorkerInput } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('scan-worker.js runs as a worker thread of the scan pool');
const post = (m: FromWorker): void => port.postMessage(m);
const inbox = new LayerInbox(() => post({ type: 'credit' }));
port.on('message', (m: ToWorker) => inbox.receive(m));

const { limits } = workerData as WorkerInput;
inventoryOf(inbox.layers(), limits).then(
  (inventory) => post({ type: 'done', inventory }),
  (e: unknown) => post({ type: 'failed', error: serializeScanError(toScanError(e)) }),
);
