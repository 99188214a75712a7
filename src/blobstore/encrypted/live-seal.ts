/**
 * Sealing as bytes arrive. A push usually passes every byte of a layer through one process (one
 * PATCH and an empty PUT, or one monolithic PUT), so the encrypted store seals the blob while the
 * bytes are appended instead of re-reading, decrypting and re-sealing the staged upload at commit.
 *
 * A live seal belongs to one upload in one process: a shadow inner upload (an id of its own)
 * written in the chunk format under a fresh data key, the sealer's state (less than one chunk,
 * held between requests as a copy of its own), and how many plaintext bytes it has consumed. It
 * starts with an append at plaintext offset 0. Every later append of the upload, through any
 * writer object, tees its plaintext into it, provided the seal has consumed exactly the bytes
 * staged before the append, under the same staging key, and no other append is under way;
 * anything else abandons it. Commit uses it only when it has consumed exactly the staged bytes and
 * was sealed under the current wrapping key; otherwise the store falls back to re-reading the
 * staged upload (resumed on another node or after a restart, appends out of step, a rotated key).
 *
 * A live seal is an optimisation: its failures never reach the staged append, they abandon it,
 * and its shadow is cancelled once its last write has settled. Its shadow becomes a blob only
 * after the final chunk is written and the stored size is exactly what the consumed bytes seal to.
 *
 * Orphans: a crash leaves a shadow upload that no session row names. The garbage collector
 * already deletes staged uploads untouched for the upload max age that have no session
 * (listUploads), shadows included; nothing here needs to. A shadow it deletes under a session
 * that trickled tiny chunks for that long (they may not reach the shadow) fails the size check at
 * commit, which then falls back.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import type { Digest } from '../../core/digest.js';
import type { BlobStore, BlobWriter } from '../blob-store.js';
import { ChunkSealer, DATA_KEY_SIZE, ciphertextSize, sealHeader } from './chunk-format.js';
import type { WrappingKey } from './wrapping-keys.js';

/** Live seals kept per store; beyond it the least recently appended to is abandoned (its upload falls back). */
export const MAX_LIVE_SEALS = 10_000;
/** Sealed bytes queued for the shadow before the append waits for it to catch up. */
const FEED_BUFFER = 256 * 1024;

const noop = (): void => undefined;

/** One append's view of a live seal. */
export interface Tap {
  /** Passes plaintext through unchanged, sealing it into the live seal on the way. */
  readonly transform: Transform;
  /**
   * Reports how the staged append ended: the plaintext size staged after it, or undefined when it
   * failed (the registry may resume from whatever was staged, which the seal cannot know). Never rejects.
   */
  done(stagedEnd: number | undefined): Promise<void>;
}

export class LiveSeals {
  /** By upload id, least recently appended to first. */
  private readonly seals = new Map<string, LiveSeal>();

  constructor(
    private readonly inner: BlobStore,
    private readonly chunkSize: number,
    private readonly max = MAX_LIVE_SEALS,
  ) {}

  /**
   * The tap for an append at plaintext `offset` of `uploadId`, staged under `stagingKey`; undefined
   * when the append is not in step with a live seal and starts none. Never rejects.
   */
  async tap(uploadId: string, stagingKey: Buffer, offset: number, wrappingKey: () => Promise<WrappingKey>): Promise<Tap | undefined> {
    let seal = this.seals.get(uploadId);
    if (seal && (seal.busy || seal.count !== offset || !seal.stagingKey.equals(stagingKey))) {
      // Waited for only when idle, which costs a delete; a busy one waits for its append.
      const gone = seal.abandon();
      if (!seal.busy) await gone;
      seal = undefined;
    }
    if (!seal) {
      if (offset !== 0) return undefined;
      try {
        const key = await wrappingKey();
        const dataKey = randomBytes(DATA_KEY_SIZE);
        const sealer = new ChunkSealer({ dataKey, header: sealHeader({ wrappingKey: key, dataKey, chunkSize: this.chunkSize }), chunkSize: this.chunkSize });
        seal = new LiveSeal(this.inner, this.chunkSize, stagingKey, key.id, sealer, (s) => this.forget(uploadId, s));
      } catch {
        return undefined;
      }
      // Another append of this upload may have started one meanwhile: neither is in step then.
      void this.seals.get(uploadId)?.abandon();
      if (this.seals.size >= this.max) void this.seals.values().next().value?.abandon();
    }
    this.seals.delete(uploadId);
    this.seals.set(uploadId, seal);
    const s = seal;
    s.busy = true;
    return { transform: s.tee(), done: (end) => s.done(end) };
  }

  /**
   * Takes the upload's live seal out for its commit, if it sealed exactly the `staged` plaintext
   * bytes under `stagingKey` and `wrappingKeyId`; abandons it otherwise.
   */
  async take(uploadId: string, stagingKey: Buffer, staged: number | undefined, wrappingKeyId: Buffer): Promise<LiveSeal | undefined> {
    const seal = this.seals.get(uploadId);
    if (!seal) return undefined;
    if (seal.busy || seal.count !== staged || !seal.stagingKey.equals(stagingKey) || !seal.wrappingKeyId.equals(wrappingKeyId)) {
      await seal.abandon();
      return undefined;
    }
    this.seals.delete(uploadId);
    return seal;
  }

  /** Abandons the upload's live seal, if any, and waits until its shadow is gone. Never rejects. */
  async drop(uploadId: string): Promise<void> {
    await this.seals.get(uploadId)?.abandon();
  }

  private forget(uploadId: string, seal: LiveSeal): void {
    if (this.seals.get(uploadId) === seal) this.seals.delete(uploadId);
  }
}

export class LiveSeal {
  private readonly shadowId = randomUUID();
  /** Plaintext bytes consumed. */
  count = 0;
  /** An append is feeding the seal. */
  busy = false;
  private dead = false;
  /** Shadow bytes stored by settled appends. */
  private written = 0;
  private shadow: Promise<BlobWriter> | undefined;
  /** What the current append has sealed, on its way into the shadow. */
  private feed: PassThrough | undefined;
  /** The shadow append under way, settled either way. */
  private inflight: Promise<void> = Promise.resolve();
  private cleanup: Promise<void> | undefined;

  constructor(
    private readonly inner: BlobStore,
    private readonly chunkSize: number,
    readonly stagingKey: Buffer,
    readonly wrappingKeyId: Buffer,
    private readonly sealer: ChunkSealer,
    private readonly forget: (seal: LiveSeal) => void,
  ) {}

  tee(): Transform {
    const consume = (plain: Buffer): Promise<void> | undefined => this.consume(plain);
    const endFeed = (): void => this.endFeed();
    return new Transform({
      transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
        const wait = consume(chunk);
        if (wait) void wait.then(() => cb(null, chunk));
        else cb(null, chunk);
      },
      flush(cb: TransformCallback) {
        endFeed();
        cb();
      },
    });
  }

  async done(stagedEnd: number | undefined): Promise<void> {
    if (stagedEnd === undefined) {
      this.busy = false;
      await this.abandon();
      return;
    }
    this.endFeed();
    await this.inflight;
    this.busy = false;
    if (this.dead) return;
    if (this.count !== stagedEnd) await this.abandon();
    else this.sealer.compact();
  }

  /**
   * Seals the final chunk and commits the shadow under `digest`: true when it did, false when it
   * failed and was abandoned (the caller falls back). Never rejects.
   */
  async commit(digest: Digest): Promise<boolean> {
    try {
      const w = await this.shadowWriter();
      this.written += await w.append(Readable.from(this.sealer.final()));
      const expected = ciphertextSize(this.count, this.chunkSize);
      const stored = await this.inner.statUpload(this.shadowId);
      if (this.written !== expected || stored !== expected) throw new Error(`live seal ${this.shadowId} holds ${stored} bytes, not ${expected}`);
      await w.commit(digest);
      this.dead = true;
      return true;
    } catch {
      await this.abandon();
      return false;
    }
  }

  /** Stops the seal for good; the shadow is cancelled once its last write has settled. Never rejects. */
  abandon(): Promise<void> {
    if (!this.cleanup) {
      this.dead = true;
      this.forget(this);
      this.feed?.destroy();
      this.feed = undefined;
      const shadow = this.shadow;
      this.cleanup = this.inflight.then(async () => {
        if (shadow) await (await shadow).cancel();
      }).catch(noop);
    }
    return this.cleanup;
  }

  /** Seals `plain`; a promise when the shadow must catch up before more comes. */
  private consume(plain: Buffer): Promise<void> | undefined {
    if (this.dead) return undefined;
    try {
      this.count += plain.length;
      const out = this.sealer.update(plain);
      if (out.length === 0) return undefined;
      const feed = this.feed ?? this.openFeed();
      let room = true;
      for (const b of out) room = feed.write(b);
      return room ? undefined : drained(feed);
    } catch {
      void this.abandon();
      return undefined;
    }
  }

  private openFeed(): PassThrough {
    const feed = new PassThrough({ highWaterMark: FEED_BUFFER });
    feed.on('error', noop);
    this.feed = feed;
    const shadow = this.shadowWriter();
    this.inflight = this.inflight
      .then(async () => {
        this.written += await (await shadow).append(feed);
      })
      .catch(() => {
        feed.destroy();
        void this.abandon();
      });
    return feed;
  }

  private endFeed(): void {
    this.feed?.end();
    this.feed = undefined;
  }

  private shadowWriter(): Promise<BlobWriter> {
    if (!this.shadow) {
      this.shadow = this.inner.writer(this.shadowId, { append: false });
      this.shadow.catch(noop);
    }
    return this.shadow;
  }
}

/** Settles when `feed` wants more or is gone. */
function drained(feed: PassThrough): Promise<void> {
  if (feed.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      feed.off('drain', done).off('close', done);
      resolve();
    };
    feed.on('drain', done).on('close', done);
  });
}
