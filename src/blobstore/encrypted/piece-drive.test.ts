/**
 * The piece driver (piece-drive.ts) hands every piece over once and in order, whoever else
 * pauses and resumes the source (the body pacer does, at every turn), and ends with the reason
 * a source or a consumer gave up; a source the caller keeps is never destroyed.
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { claimPacing, offerPacing } from '../../core/piece-pacing.js';
import { Halt, drive } from './piece-drive.js';

const pieces = (n: number): Buffer[] => Array.from({ length: n }, (_, i) => Buffer.from(`piece ${i};`));

describe('piece drive', () => {
  it('keeps the order when the source is resumed by someone else while a piece waits', async () => {
    const source = Readable.from(pieces(40), { objectMode: false });
    const got: string[] = [];
    let waits = 0;
    const sourceError = await drive(source, (piece) => {
      // Every third piece waits a little; meanwhile another party resumes the source, as the
      // body pacer does for the bodies it held.
      if (got.length % 3 !== 0) {
        got.push(piece.toString());
        return undefined;
      }
      waits++;
      setImmediate(() => source.resume());
      return new Promise((resolve) =>
        setTimeout(() => {
          got.push(piece.toString());
          resolve();
        }, 2),
      );
    });
    assert.equal(sourceError, undefined);
    assert.ok(waits > 5, `only ${waits} waits`);
    assert.deepEqual(got, pieces(40).map(String));
  });

  it('ends with the failure of the last piece when the source ended while it waited', async () => {
    const source = Readable.from(pieces(3), { objectMode: false });
    let seen = 0;
    const result = await drive(source, () => {
      seen++;
      if (seen < 3) return undefined;
      // The last piece waits; another party resumes the source (as the body pacer does), which
      // ends; then the piece fails (a slot that never came).
      return new Promise((_, reject) => {
        source.once('end', () => setImmediate(() => reject(new Error('no slot'))));
        setImmediate(() => source.resume());
      });
    });
    assert.equal(seen, 3);
    assert.equal(result?.message, 'no slot');
  });

  it('reports each piece to the pacing it claimed, after pausing for a wait', async () => {
    const source = Readable.from(pieces(10), { objectMode: false });
    const seen: Array<{ bytes: number; flowing: boolean | null }> = [];
    offerPacing(source, () => (bytes) => seen.push({ bytes, flowing: source.readableFlowing }));
    let n = 0;
    await drive(source, () => (n++ % 2 === 0 ? new Promise((r) => setTimeout(r, 1)) : undefined));
    assert.equal(seen.length, 10);
    assert.equal(
      seen.reduce((a, s) => a + s.bytes, 0),
      pieces(10).reduce((a, p) => a + p.length, 0),
    );
    // A piece that waits has paused the source before its pacing hears of it.
    assert.deepEqual(
      seen.filter((_, i) => i % 2 === 0).map((s) => s.flowing),
      Array(5).fill(false),
    );
    assert.equal(claimPacing(source), undefined, 'the pacing is claimed once');
  });

  it('ends with the consumer’s error, leaving a kept source undestroyed and paused', async () => {
    const source = new Readable({ read() {} });
    source.push(Buffer.from('a'));
    source.push(Buffer.from('b'));
    const boom = new Error('too large');
    const sourceError = await drive(
      source,
      (piece) => {
        if (piece.toString() === 'b') throw boom;
        return undefined;
      },
      { keepSource: true },
    );
    assert.equal(sourceError, boom);
    assert.equal(source.destroyed, false);
    assert.equal(source.readableFlowing, false);
  });

  it('destroys a source it owns when the consumer fails, and reports a premature close', async () => {
    const owned = new Readable({ read() {} });
    owned.push(Buffer.from('a'));
    const boom = new Error('store failed');
    assert.equal(await drive(owned, () => Promise.reject(boom)), boom);
    assert.equal(owned.destroyed, true);
    const cut = new Readable({ read() {} });
    cut.push(Buffer.from('a'));
    setTimeout(() => cut.destroy(), 5);
    const e = await drive(cut, () => undefined);
    assert.equal((e as NodeJS.ErrnoException | undefined)?.code, 'ERR_STREAM_PREMATURE_CLOSE');
  });

  it('ends on a halt as on an abort, leaving a kept source paused and the caller’s signal unwatched', async () => {
    const source = new Readable({ read() {} });
    source.push(Buffer.from('a'));
    const controller = new AbortController();
    const halt = new Halt();
    let stopped: Error | undefined;
    let stopping: ((e: Error) => void) | undefined;
    let taken = 0;
    // The first piece waits (a slot that never comes); the store then fails elsewhere.
    const result = drive(
      source,
      () => {
        taken++;
        queueMicrotask(() => halt.stop(new Error('the store failed')));
        return new Promise<void>((_, reject) => {
          // As SealAppend.abandon: the wait gives up when told to stop.
          stopping = reject;
        });
      },
      {
        signal: controller.signal,
        halt,
        keepSource: true,
        stop: (e) => {
          stopped = e;
          stopping?.(e);
        },
      },
    );
    const e = await result;
    assert.equal(taken, 1);
    assert.equal(e?.name, 'AbortError');
    assert.equal((e?.cause as Error | undefined)?.message, 'the store failed');
    assert.equal(stopped, e, 'the waiting piece was told to stop');
    assert.equal(source.destroyed, false);
    assert.equal(source.readableFlowing, false);
    // Nothing of the drive is left listening, on the source or on the request's signal.
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    assert.equal(source.listenerCount('data'), 0);
  });

  it('ends at once on a halt stopped before it began', async () => {
    const halt = new Halt();
    halt.stop(new Error('the store failed'));
    const source = new Readable({ read() {} });
    source.push(Buffer.from('a'));
    let taken = 0;
    const e = await drive(source, () => void taken++, { halt, keepSource: true });
    assert.equal((e?.cause as Error | undefined)?.message, 'the store failed');
    assert.equal(taken, 0);
    assert.equal(source.listenerCount('data'), 0);
    assert.equal(source.destroyed, false);
  });
});
