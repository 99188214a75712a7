/**
 * The worker's side of the layer stream: turns the pool's messages back into one Readable per
 * layer for readLayers. A chunk is acknowledged (a credit sent) once the layer's stream takes
 * it without going over its buffer, or later when its reader asks for more, so the pool never
 * gets further ahead than its window plus one buffered chunk.
 */
import { Readable } from 'node:stream';
import { CHUNK_BYTES, type ToWorker } from './protocol.js';

export class LayerInbox {
  private current: Readable | undefined;
  /** Credits held back while the current layer's buffer is full. */
  private owed = 0;
  /** Layers not yet handed to the reader; null marks the end. */
  private readonly ready: Array<Readable | null> = [];
  private wake: (() => void) | undefined;

  constructor(private readonly credit: () => void) {}

  receive(m: ToWorker): void {
    switch (m.type) {
      case 'layer': {
        const layer = new Readable({ highWaterMark: CHUNK_BYTES, read: () => this.repay() });
        this.current = layer;
        this.enqueue(layer);
        return;
      }
      case 'chunk': {
        const layer = this.current;
        // The reader gave up on this layer (the scan is failing): its bytes go nowhere.
        if (!layer || layer.destroyed) {
          this.credit();
          return;
        }
        if (layer.push(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength))) this.credit();
        else this.owed++;
        return;
      }
      case 'layer-end':
        if (this.current && !this.current.destroyed) this.current.push(null);
        this.current = undefined;
        this.repay();
        return;
      case 'end':
        this.enqueue(null);
        return;
    }
  }

  /** The layers, in order, as the pool announces them. */
  async *layers(): AsyncGenerator<Readable> {
    for (;;) {
      while (this.ready.length === 0) await new Promise<void>((resolve) => (this.wake = resolve));
      const next = this.ready.shift()!;
      if (next === null) return;
      yield next;
    }
  }

  private repay(): void {
    for (; this.owed > 0; this.owed--) this.credit();
  }

  private enqueue(layer: Readable | null): void {
    this.ready.push(layer);
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
