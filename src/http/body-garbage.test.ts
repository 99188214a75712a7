/**
 * Dead request-body buffers do not pile up: a real Node HTTP server whose handler drops each body
 * piece as it arrives (as the upload path does once it has copied it on), fed 96 MiB over one
 * PUT. Node hands every piece over as a Buffer of its own; without a scavenge now and then they
 * stay allocated until V8's external-memory limit forces a full collection (tens of MiB later).
 * Measured by what the process holds in ArrayBuffers at each piece, not by time.
 */
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { BodyGarbage, DEFAULT_COLLECT_EVERY } from './body-garbage.js';
import { BodyPacer } from './body-pacing.js';

const MiB = 1024 * 1024;
const BODY = 96 * MiB;

async function putDropping(pacer: BodyPacer): Promise<{ received: number; peakGrowth: number }> {
  let received = 0;
  let baseline = 0;
  let peak = 0;
  const server = createServer((req, res) => {
    pacer.pace(req);
    baseline = process.memoryUsage().arrayBuffers;
    req.on('data', (piece: Buffer) => {
      received += piece.length;
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    });
    req.on('end', () => res.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as AddressInfo;
    const block = Buffer.alloc(MiB, 7);
    await new Promise<void>((resolve, reject) => {
      const req = request({ port, host: '127.0.0.1', method: 'PUT', path: '/', headers: { 'content-length': BODY } }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      let sent = 0;
      const more = (): void => {
        while (sent < BODY) {
          sent += block.length;
          if (!req.write(block)) {
            req.once('drain', more);
            return;
          }
        }
        req.end();
      };
      more();
    });
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
  return { received, peakGrowth: peak - baseline };
}

describe('body garbage', () => {
  it('keeps the dead body pieces of a paced upload to a few MiB', async () => {
    const garbage = new BodyGarbage();
    const { received, peakGrowth } = await putDropping(new BodyPacer(undefined, garbage));
    assert.equal(received, BODY);
    assert.ok(garbage.collections >= BODY / DEFAULT_COLLECT_EVERY - 1, `${garbage.collections} scavenges`);
    // About one interval of pieces (8.5 MiB measured); 32 MiB without the scavenges, where V8's
    // external-memory limit forces a full collection.
    assert.ok(peakGrowth < 3 * DEFAULT_COLLECT_EVERY, `ArrayBuffers grew by ${(peakGrowth / MiB).toFixed(1)} MiB`);
  });

  it('scavenges once per interval of body bytes, counting across bodies', () => {
    const garbage = new BodyGarbage(10);
    for (let i = 0; i < 9; i++) garbage.delivered(1);
    assert.equal(garbage.collections, 0);
    garbage.delivered(1);
    assert.equal(garbage.collections, 1);
    garbage.delivered(25);
    assert.equal(garbage.collections, 2);
  });
});
