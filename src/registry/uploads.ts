/**
 * Blob uploads: sessions, streamed and chunked appends, completion with digest verification,
 * cancellation. Bytes are hashed as they stream into the blob store, on the hash pool's worker
 * threads; the running hash lives in this process only, so an upload resumed after a restart (or
 * on another node, or after its hashing thread died) is re-hashed from its staged bytes at
 * completion. A digest becomes visible only after the blob is durable and
 * its bytes were verified (design decision 2).
 */
import { accountOf, type RegistryKey } from '../core/registry-key.js';
import { randomUUID } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { isUploadId, type BlobStore, type PieceMeter } from '../blobstore/blob-store.js';
import { digestAlgorithm, type Digest, type DigestAlgorithm } from '../core/digest.js';
import { Codes, isStorageFull, RegistryError } from '../core/errors.js';
import { markFreshPieces, yieldsFreshPieces } from '../core/fresh-pieces.js';
import { GC_CLAIM_STALE_MS } from '../metadata/gc.js';
import type { UploadCreation, UploadLimits, UploadRecord } from '../metadata/types.js';
import type { RegistryContext, RepoScope } from './context.js';
import type { HashSession } from './hash-pool.js';
import { repositoryForPush } from './create-on-push.js';
import { requireRepository } from './repositories.js';
import { quotaExceeded, type Quotas } from './quotas.js';

/** While the garbage collector deletes the bytes of a digest being pushed, the push waits this long between tries... */
const GC_BUSY_RETRY_MS = 20;
/** ...this many times (a deletion takes one unlink per blob), then fails with a retriable error. */
const GC_BUSY_TRIES = 250;

/**
 * When a refused session may be tried again: sessions free up as pushes finish, and a client
 * that retried at once would only add load. Not a promise; the abandoned ones last longer.
 */
const SESSION_RETRY_AFTER_SECONDS = 30;

/**
 * A cap on open sessions reached: a wait can help, so 429 TOOMANYREQUESTS with Retry-After on
 * /v2 and LimitExceededException on the JSON API (Codes.TooManyRequests).
 */
function tooManySessions(refusal: Exclude<UploadCreation, 'created'>, limits: UploadLimits): RegistryError {
  const message =
    refusal === 'account'
      ? `The account has ${limits.perAccount} open upload sessions (quota uploadSessions); finish or cancel some, or retry later.`
      : `The registry has ${limits.total} open upload sessions (maxUploadSessions); retry later.`;
  return new RegistryError(
    Codes.TooManyRequests,
    message,
    { limit: refusal === 'account' ? 'uploadSessions' : 'maxUploadSessions' },
    {
      retryAfterSeconds: SESSION_RETRY_AFTER_SECONDS,
    },
  );
}

/** The running sha256 of an upload whose bytes all passed through this process. */
interface HashState {
  session: HashSession;
  /** The staged bytes the running hash covers. */
  size: number;
}

export interface ChunkOptions {
  /** From Content-Range: the chunk must start where the upload ends. */
  start?: number;
  signal?: AbortSignal;
}

type Session = UploadRecord & { store: BlobStore; registryKey: RegistryKey };

export interface UploadStatus {
  id: string;
  size: number;
}

export class Uploads {
  private readonly hashes = new Map<string, HashState>();
  /** Sessions with a request in flight; a second concurrent writer is refused. */
  private readonly busy = new Set<string>();

  constructor(
    private readonly ctx: RegistryContext,
    private readonly quotas: Quotas,
  ) {}

  async start(scope: RepoScope): Promise<UploadStatus> {
    const repo = await repositoryForPush(this.ctx, scope, this.quotas);
    const id = randomUUID();
    const limits = { perAccount: await this.quotas.value(scope.registryKey, 'uploadSessions'), total: this.ctx.limits.maxUploadSessions };
    const accountId = accountOf(scope.registryKey);
    const created = await this.ctx.meta.uploads.create({ id, repositoryId: repo.id, accountId, now: this.ctx.clock.now() }, limits);
    if (created !== 'created') throw tooManySessions(created, limits);
    return { id, size: 0 };
  }

  async status(scope: RepoScope, id: string): Promise<UploadStatus> {
    const u = await this.session(scope, id);
    return { id, size: u.size };
  }

  /** Appends a chunk (PATCH). */
  async append(scope: RepoScope, id: string, body: Readable, opts: ChunkOptions = {}): Promise<UploadStatus> {
    const u = await this.session(scope, id);
    return this.exclusive(u, () => this.write(u, body, opts));
  }

  /** Completes the upload (PUT), with an optional final chunk, verifying the digest. */
  async complete(scope: RepoScope, id: string, digest: Digest, body?: Readable, opts: ChunkOptions = {}): Promise<Digest> {
    const u = await this.session(scope, id);
    return this.exclusive(u, async () => {
      let size = u.size;
      if (body) size = (await this.write(u, body, opts)).size;
      // The running hash is spent; a retried completion re-hashes the staged bytes.
      const actual = await this.digestOf(u, size, digestAlgorithm(digest)).finally(() => this.forget(id));
      if (actual !== digest) {
        await this.discard(u);
        throw new RegistryError(Codes.DigestInvalid, 'provided digest did not match uploaded content', { digest, actual });
      }
      const writer = await u.store.writer(id, { append: true });
      await this.beginCommit(id, digest);
      try {
        await writer.commit(digest);
        await this.ctx.meta.blobs.record(u.repositoryId, { digest, size }, this.ctx.clock.now(), id);
      } catch (e) {
        await this.ctx.meta.blobs.releaseCommit(id, this.ctx.clock.now()).catch(() => undefined);
        throw e;
      }
      await this.ctx.meta.uploads.delete(id);
      return digest;
    });
  }

  /** A monolithic upload (POST ?digest=): a session that lives for one request. */
  async monolithic(scope: RepoScope, digest: Digest, body: Readable, signal?: AbortSignal): Promise<Digest> {
    const { id } = await this.start(scope);
    try {
      return await this.complete(scope, id, digest, body, signal ? { signal } : {});
    } catch (e) {
      await this.session(scope, id).then(
        (u) => this.discard(u),
        () => undefined,
      );
      throw e;
    }
  }

  /**
   * Announces the commit of `digest` to the garbage collector before the bytes move into place,
   * so no deletion of that digest can start until the blob row exists (or the commit is
   * released): a pending deletion is cancelled, one in progress is waited for.
   */
  private async beginCommit(id: string, digest: Digest): Promise<void> {
    for (let i = 0; i < GC_BUSY_TRIES; i++) {
      const now = this.ctx.clock.now();
      const r = await this.ctx.meta.blobs.beginCommit(id, digest, now, new Date(now.getTime() - GC_CLAIM_STALE_MS));
      if (r === 'ok') return;
      await sleep(GC_BUSY_RETRY_MS);
    }
    throw new RegistryError(Codes.TooManyRequests, 'the blob is being garbage-collected; retry the upload', { digest }, { retryAfterSeconds: 1 });
  }

  async cancel(scope: RepoScope, id: string): Promise<void> {
    await this.discard(await this.session(scope, id));
  }

  /** Drops the running hash of an upload (its worker forgets it too). */
  private forget(id: string): void {
    this.hashes.get(id)?.session.drop();
    this.hashes.delete(id);
  }

  private async discard(u: Session): Promise<void> {
    this.forget(u.id);
    await this.ctx.meta.uploads.delete(u.id);
    await u.store.deleteUpload(u.id);
  }

  /** The upload's session and the blob store of its repository's encryption key. */
  private async session(scope: RepoScope, id: string): Promise<Session> {
    const unknown = () => new RegistryError(Codes.BlobUploadUnknown, 'upload unknown', { uuid: id.slice(0, 100) });
    if (!isUploadId(id)) throw unknown();
    const repo = await requireRepository(this.ctx, scope);
    const found = await this.ctx.meta.uploads.find(id);
    if (!found || found.repositoryId !== repo.id) throw unknown();
    const u: Session = Object.assign(found, { store: await this.ctx.vaults.of(repo.settings), registryKey: scope.registryKey });
    // After a crash mid-chunk the staged file holds more than was acknowledged. Those bytes are
    // what the client sent, in order, so the staged size is the truth and the client resumes there.
    if (!this.busy.has(id)) {
      const staged = (await u.store.statUpload(id)) ?? 0;
      if (staged !== u.size) {
        this.forget(id);
        await this.ctx.meta.uploads.setSize(id, staged, this.ctx.clock.now());
        u.size = staged;
      }
    }
    return u;
  }

  /**
   * Runs one request's write to a session: a second concurrent writer is refused. A full disk (or
   * database) ends the upload: its staged bytes are deleted at once, since they are what frees
   * space for everyone else, and the client is told the storage is full rather than that its
   * upload was interrupted. What was committed before is untouched; a blob this upload committed
   * but could not record is an orphan the garbage collector reclaims. One async frame for both,
   * not two: it stays suspended for as long as the body streams (notes/2026-12-05-s17-rss.md).
   */
  private async exclusive<T>(u: Session, fn: () => Promise<T>): Promise<T> {
    const id = u.id;
    if (this.busy.has(id))
      throw new RegistryError(Codes.RangeInvalid, 'another request is writing to this upload', undefined, { uploadOpen: { id, size: u.size } });
    this.busy.add(id);
    try {
      return await fn();
    } catch (e) {
      if (!isStorageFull(e)) throw e;
      this.forget(id);
      await u.store.deleteUpload(id).catch(() => undefined);
      // The session row goes too (a full SQLite may refuse even that; the upload max age reclaims it).
      await this.ctx.meta.uploads.delete(id).catch(() => undefined);
      throw new RegistryError(Codes.StorageFull, 'storage is full: the upload was discarded; retry when space is freed', { uuid: id });
    } finally {
      this.busy.delete(id);
    }
  }

  private async write(u: Session, body: Readable, opts: ChunkOptions): Promise<UploadStatus> {
    if (opts.start !== undefined && opts.start !== u.size) {
      throw new RegistryError(
        Codes.RangeInvalid,
        `chunk starts at ${opts.start} but the upload has ${u.size} bytes`,
        { size: u.size },
        { uploadOpen: { id: u.id, size: u.size } },
      );
    }
    // Before the writer is open: a failed lookup leaves nothing to close.
    const maxLayer = await this.quotas.value(u.registryKey, 'maxLayerBytes');
    const writer = await u.store.writer(u.id, { append: true });
    // The running hash is only trusted if it covers exactly the bytes staged before this chunk
    // (and its worker is alive); with nothing staged yet a fresh one covers them all.
    let state = this.hashes.get(u.id);
    if (state && (state.size !== writer.size || state.session.failure)) {
      this.forget(u.id);
      state = undefined;
    }
    if (!state && writer.size === 0) {
      state = { session: this.ctx.hashing.open('sha256'), size: 0 };
      this.hashes.set(u.id, state);
    }
    // A writer that feeds the hash itself does it in its own pass over the bytes (off the event loop).
    const fused = state && writer.feedsHash ? state.session : undefined;
    const count = new Count(maxLayer, writer.size);
    let results: PromiseSettledResult<unknown>[];
    if (writer.meters && (fused || !state)) {
      // Nothing to hash here: the writer reads the body itself, straight from its 'data' events,
      // and counts each piece through `count` (no stream between the socket and the store).
      results = await Promise.allSettled([writer.append(body, opts.signal, fused, count)]);
    } else {
      const meter = new Meter(count, fused ? undefined : state?.session);
      // The meter passes on the very pieces it is given (and hashes copies of them).
      if (yieldsFreshPieces(body)) markFreshPieces(meter);
      results = await Promise.allSettled([feed(body, meter), writer.append(meter, opts.signal, fused)]);
    }
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      this.forget(u.id);
      // Checked first: the body is unfinished then too, but the upload was not interrupted.
      const full = results.find((r): r is PromiseRejectedResult => r.status === 'rejected' && isStorageFull(r.reason));
      if (full) {
        await writer.close().catch(() => undefined);
        throw full.reason;
      }
      await writer.close();
      if (count.failure) {
        await this.discard(u);
        throw count.failure;
      }
      await this.ctx.meta.uploads.setSize(u.id, writer.size, this.ctx.clock.now());
      if (body.errored || !body.readableEnded) {
        throw new RegistryError(Codes.BlobUploadInvalid, 'upload interrupted', { received: count.bytes });
      }
      throw failed.reason;
    }
    if (state) {
      // No partial batch is held between requests: an idle upload costs no buffer.
      state.session.flush();
      if (state.session.failure) this.forget(u.id);
      else state.size = writer.size;
    }
    await writer.close();
    const live = await this.ctx.meta.uploads.setSize(u.id, writer.size, this.ctx.clock.now());
    if (!live) throw new RegistryError(Codes.BlobUploadUnknown, 'upload was cancelled');
    return { id: u.id, size: writer.size };
  }

  /** The digest of the staged bytes: from the running hash when valid, else by re-reading them. */
  private async digestOf(u: Session, size: number, alg: DigestAlgorithm): Promise<Digest> {
    const state = this.hashes.get(u.id);
    if (alg === 'sha256' && state && state.size === size && !state.session.failure) {
      try {
        return `sha256:${await state.session.digest()}` as Digest;
      } catch {
        // Its worker died before answering: the staged bytes are hashed again below.
      }
    }
    const hash = this.ctx.hashing.open(alg);
    try {
      if (size > 0) {
        for await (const chunk of await u.store.readUpload(u.id)) {
          const full = hash.update(chunk as Buffer);
          if (full) await full;
        }
      }
      return `${alg}:${await hash.digest()}` as Digest;
    } finally {
      hash.drop();
    }
  }
}

/**
 * Pipes the request body into the meter. A client hang-up fails the meter, so the store's
 * append fails instead of waiting; but a failure on the store's side (a full disk) leaves the
 * body alone: destroying it would reset the connection before the client can be told why.
 */
function feed(body: Readable, meter: Meter): Promise<void> {
  if (body.readableEnded) {
    meter.end();
    return Promise.resolve();
  }
  if (body.destroyed) {
    const e = body.errored ?? new Error('the client closed the request before its end');
    meter.destroy(e);
    return Promise.reject(e);
  }
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      body.off('end', onEnd);
      body.off('error', onBodyError);
      body.off('close', onBodyClose);
      meter.off('close', onMeterClose);
      if (err) reject(err);
      else resolve();
    };
    const onEnd = (): void => done();
    const onBodyError = (e: Error): void => {
      meter.destroy(e);
      done(e);
    };
    const onBodyClose = (): void => {
      if (body.readableEnded) return;
      const e = new Error('the client closed the request before its end');
      meter.destroy(e);
      done(e);
    };
    const onMeterClose = (): void => {
      if (meter.writableFinished) return;
      body.unpipe(meter);
      done(meter.errored ?? new Error('the blob store stopped reading'));
    };
    body.once('end', onEnd);
    body.once('error', onBodyError);
    body.once('close', onBodyClose);
    meter.once('close', onMeterClose);
    body.pipe(meter);
  });
}

/** Counts the bytes of one request's body and enforces the layer size limit as they stream. */
class Count implements PieceMeter {
  bytes = 0;
  failure: Error | undefined;

  constructor(
    private readonly maxBytes: number,
    private readonly staged: number,
  ) {}

  take(piece: Buffer): void {
    this.bytes += piece.length;
    if (this.staged + this.bytes > this.maxBytes) {
      this.failure = quotaExceeded('maxLayerBytes', this.maxBytes);
      throw this.failure;
    }
  }
}

/**
 * Counts bytes and feeds the running hash, as bytes stream past, for a writer that does neither
 * itself. While the hash pool has as much of this upload in flight as it may, the chunk waits,
 * which pauses the request body: memory stays flat however fast the client sends.
 */
class Meter extends Transform {
  constructor(
    private readonly count: Count,
    private readonly hash: HashSession | undefined,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.count.take(chunk);
    } catch (e) {
      cb(e as Error);
      return;
    }
    const full = this.hash?.update(chunk);
    if (full) full.then(() => cb(null, chunk), cb);
    else cb(null, chunk);
  }
}
