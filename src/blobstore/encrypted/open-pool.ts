/**
 * Opening sealed blobs off the event loop (design decision 6): a download's chunks are read from
 * the blob's fd (or, from a store with no fd, from the store's stream the main thread copies into
 * an input ring: open-feed.ts) and deciphered by the opening task of a byte thread (open-task.ts)
 * into a ring of shared memory of the download's own, and the main thread only hands ring slots
 * to the socket.
 * A slot goes back to the worker when the socket's write of it has completed, so a slow client
 * holds the worker back (at most a ring ahead) and the main thread allocates nothing per chunk.
 *
 * A download from an fd to a plain HTTP/1.1 socket goes further (`threadSends`): once the main
 * thread has written the ring's first slots (and with them the response's headers), the thread
 * writes the rest to the socket itself (open-send.ts), and the main thread only ends the response.
 *
 * Rings are kept for the next download once every slot is back; a ring whose slots a destroyed
 * socket may still hold is left to the collector instead. The fd belongs to the download and is
 * closed once the worker has said it no longer reads it (finished, failed, stopped, or died).
 */
import type { Readable } from 'node:stream';
import type { DirectBody } from '../../core/direct-body.js';
import type { BlobHandle } from '../blob-store.js';
import type { ByteThread, ByteThreads } from '../workers/threads.js';
import type { ChunkRun } from './chunk-format.js';
import { DownloadBudget, type BudgetGrant } from '../../core/download-budget.js';
import { OpenFeed } from './open-feed.js';
import type { FromOpener, OpenerSource, Stripe } from './open-protocol.js';
import { RingDownload, type Part, type Ring, type RingHome, type SendPlan, type SourceOwner } from './ring-download.js';
import { sockSend } from './sock-send.js';

export interface OpenPoolOptions {
  /** Plaintext bytes per ring slot (at least one chunk); default 1 MiB. */
  slotBytes?: number;
  /** Slots per download's ring; default 3. */
  slots?: number;
  /** Whether a download from an fd is opened on two threads while both have no other download; default false. */
  stripe?: boolean;
  /** false: Node's crypto even where the native opener loads (native-gcm.ts); default true. */
  native?: boolean;
  /** false: the native opener keeps to OpenSSL's GCM where it could run its own AVX2 one (config gcmAvx2); default true. */
  avx2?: boolean;
  /** false: read blob files with preads even where they can be mapped (mapped-file.ts); default true. */
  mapped?: boolean;
  /**
   * A download from an fd, opened on one thread, to a plain HTTP/1.1 socket is written to the
   * socket by its thread (open-send.ts), which gives it up once the client has taken fewer than
   * `minBytes` (default 1) in a `stallMs` window: the response rule's window and bytes, since the
   * main thread sees none of its bytes waiting; `pipe`: through the thread's send pipe
   * (open-pipe.ts), default false, its thread SCHED_BATCH with `pipeBatch` (default false);
   * undefined: every download goes through the main thread.
   */
  threadSends?: { stallMs: number; minBytes?: number; pipe?: boolean; pipeBatch?: boolean };
  /**
   * Bytes of rings (and fed downloads' input rings) downloads in flight may hold at once
   * (download-budget.ts); default 256 MiB.
   */
  bufferBytes?: number;
  /** How long a download with no room in bufferBytes waits before it is refused (429); default 5 s. */
  bufferWaitMs?: number;
  /** The budget to ask, shared with downloads that are not the pool's (bufferBytes and bufferWaitMs are then its own). */
  budget?: DownloadBudget;
}

export class OpenerLostError extends Error {
  constructor(override readonly cause: Error) {
    super(`an opening thread stopped: ${cause.message}`);
    this.name = 'OpenerLostError';
  }
}

/**
 * Measured (512 MiB download, loaded machine, same run): 1 MiB slots cost the main thread
 * ~0.6 s/GiB against ~0.9 with 256 KiB — a slot is a socket write, a callback and a credit
 * message — and the whole process ~10 % less. Three slots: one on the socket, one ready, one
 * being filled; 3 MiB per download in flight.
 */
const DEFAULT_SLOT = 1024 * 1024;
const DEFAULT_SLOTS = 3;
/** Spare rings kept for later downloads, in bytes: as much as 8 full rings (24 MiB by default). */
const SPARE_FULL_RINGS = 8;

type OpenRun = { dataKey: Buffer; chunkSize: number; run: ChunkRun; label: string };

/** Input slots of a fed download: one the worker reads, one the store's stream fills. */
const INPUT_SLOTS = 2;
/**
 * What downloads in flight may hold by default: 42 full rings (3 MiB each) in its first half,
 * then lean ones (two chunks: 128 KiB) up to the whole, some 1,040 more (README, "Slow clients").
 */
export const DEFAULT_BUFFER_BYTES = 256 * 1024 * 1024;
/** A lean ring's slots (each one chunk): one on the socket while the next is opened. */
const LEAN_SLOTS = 2;

type Shape = { slotBytes: number; slots: number };

export class OpenPool implements RingHome {
  private nextId = 1;
  /** Each thread's parts of downloads under way, by id. */
  private readonly downloads = new Map<ByteThread, Map<number, { download: RingDownload; part: Part }>>();
  /** Spare rings by shape (`slotBytes×slots`), and their bytes in all. */
  private readonly spare = new Map<string, Ring[]>();
  private spareBytes = 0;
  private readonly maxSpareBytes: number;
  private readonly slotBytes: number;
  private readonly slots: number;
  private readonly stripe: boolean;
  private readonly native: boolean;
  private readonly avx2: boolean;
  private readonly mapped: boolean;
  /** Whether downloads are deciphered with the native opener where it loads (OpenPoolOptions.native). */
  get nativeCipher(): boolean {
    return this.native;
  }

  /** Whether the native opener may run its own AVX2 GCM (OpenPoolOptions.avx2). */
  get avx2Cipher(): boolean {
    return this.avx2;
  }

  /** Downloads opened on two threads so far (for tests and diagnostics). */
  striped = 0;
  /** Rings allocated so far (for tests and diagnostics: a warm pool allocates none). */
  ringsMade = 0;
  /** Download parts that finished, by the cipher that opened them, and how many of them read a mapped file (for tests and diagnostics). */
  readonly finished = { native: 0, node: 0, mapped: 0 };
  /** Downloads whose thread took over their socket (for tests and diagnostics). */
  threadSent = 0;
  private readonly sendPlan: SendPlan | undefined;
  /** What downloads in flight hold, and the bound on it (for tests, diagnostics and metrics). */
  readonly budget: DownloadBudget;

  constructor(
    private readonly threads: ByteThreads,
    opts: OpenPoolOptions = {},
  ) {
    this.slotBytes = opts.slotBytes ?? DEFAULT_SLOT;
    this.slots = opts.slots ?? DEFAULT_SLOTS;
    this.stripe = opts.stripe ?? false;
    this.native = opts.native ?? true;
    this.avx2 = opts.avx2 ?? true;
    this.mapped = opts.mapped ?? true;
    if (this.slots < 1) throw new Error(`an open pool needs at least one slot per ring, got ${this.slots}`);
    this.maxSpareBytes = SPARE_FULL_RINGS * this.slotBytes * this.slots;
    this.budget =
      opts.budget ??
      new DownloadBudget({
        bytes: opts.bufferBytes ?? DEFAULT_BUFFER_BYTES,
        ...(opts.bufferWaitMs !== undefined && { waitMs: opts.bufferWaitMs }),
      });
    const addon = opts.threadSends ? sockSend() : undefined;
    this.sendPlan =
      addon && opts.threadSends
        ? {
            addon,
            stallMs: opts.threadSends.stallMs,
            minBytes: opts.threadSends.minBytes ?? 1,
            pipe: opts.threadSends.pipe === true,
            pipeBatch: opts.threadSends.pipeBatch === true,
            started: () => this.threadSent++,
          }
        : undefined;
    for (const t of threads.threads) {
      const running = new Map<number, { download: RingDownload; part: Part }>();
      this.downloads.set(t, running);
      t.on('open', (message) => {
        const m = message as FromOpener;
        if ((m.op === 'data' && m.last) || m.op === 'end' || m.op === 'sent') {
          this.finished[m.native ? 'native' : 'node']++;
          if (m.mapped) this.finished.mapped++;
        }
        const r = running.get(m.id);
        r?.download.received(r.part, m);
      });
      t.onExit((cause) => {
        const lost = [...running.values()];
        running.clear();
        for (const { download, part } of lost) download.lost(part, new OpenerLostError(cause));
      });
    }
  }

  /**
   * The plaintext of `run`, read from `fd` (`handle`'s), which the download then owns: the handle
   * is closed once the worker is done with it, whatever happens. Resolves once the first slot is
   * opened, so a blob that fails authentication is refused before a client has been answered.
   */
  async open(handle: BlobHandle, fd: number, opts: OpenRun): Promise<Readable & DirectBody> {
    const owner = { release: () => void handle.close().catch(() => undefined) };
    let grant: BudgetGrant;
    try {
      grant = await this.budget.take(this.ask(opts));
    } catch (e) {
      owner.release();
      throw e;
    }
    return this.begin({ fd }, owner, opts, grant, undefined, this.stripe, this.sendPlan);
  }

  /**
   * The plaintext of `run`, from `sealed`: exactly the run's stored bytes (a store's ranged read),
   * which the download then owns (destroyed if it ends early). Resolves as open() does.
   */
  async openStream(sealed: Readable, opts: OpenRun): Promise<Readable & DirectBody> {
    const sealedBytes = opts.run.cipherEnd - opts.run.cipherStart + 1;
    const input = (lean: boolean) => Math.min(lean ? opts.chunkSize : this.slotBytes, sealedBytes);
    let grant: BudgetGrant;
    try {
      grant = await this.budget.take(this.ask(opts, INPUT_SLOTS * input(false), INPUT_SLOTS * input(true)));
    } catch (e) {
      sealed.destroy();
      throw e;
    }
    let download: RingDownload | undefined;
    const feed = new OpenFeed(sealed, input(grant.lean), INPUT_SLOTS, {
      input: (slot, len, last) => download?.feedInput(slot, len, last),
      failed: (e) => download?.fail(e),
    });
    return this.begin({ input: feed.sab, inputSlotBytes: feed.slotBytes }, feed, opts, grant, (d) => {
      download = d;
      feed.begin();
    });
  }

  /** A download's ask of the budget: its full ring and a lean one, with `fullInput` / `leanInput` bytes of input ring. */
  private ask(opts: OpenRun, fullInput = 0, leanInput = 0): { full: number; lean: number } {
    const bytes = (s: Shape) => s.slotBytes * s.slots;
    return { full: bytes(this.shape(opts.chunkSize, opts.run, false)) + fullInput, lean: bytes(this.shape(opts.chunkSize, opts.run, true)) + leanInput };
  }

  private async begin(
    source: OpenerSource,
    owner: SourceOwner,
    opts: OpenRun,
    grant: BudgetGrant,
    started?: (d: RingDownload) => void,
    mayStripe = false,
    sendPlan?: SendPlan,
  ): Promise<Readable & DirectBody> {
    const load = (t: ByteThread) => this.downloads.get(t)!.size;
    const first = this.threads.least(load);
    const shape = this.shape(opts.chunkSize, opts.run, grant.lean);
    const ring = this.ring(shape);
    const parts: Part[] = [{ thread: first, id: this.nextId++, ring, ready: [], workerDone: false }];
    const grants = [grant];
    // A stripe fills one slot; two threads only pay off with a stripe for each, and only while
    // neither has another download (under load, one thread a download already uses them all).
    const stripeChunks = Math.floor(ring.slotBytes / opts.chunkSize);
    const second = mayStripe && !grant.lean && load(first) === 0 ? this.threads.threads.find((t) => t !== first && load(t) === 0) : undefined;
    const extra = second && opts.run.lastChunk - opts.run.firstChunk + 1 > stripeChunks ? this.budget.tryExtra(ring.sab.byteLength) : undefined;
    if (second && extra) {
      parts.push({ thread: second, id: this.nextId++, ring: this.ring(shape), ready: [], workerDone: false });
      grants.push(extra);
      this.striped++;
    }
    const download = new RingDownload(this, parts, owner, parts.length === 1 ? sendPlan : undefined, grants);
    const { dataKey, chunkSize, run, label } = opts;
    for (const [i, part] of parts.entries()) {
      const stripe: Stripe | undefined = parts.length > 1 ? { chunks: stripeChunks, parts: parts.length, part: i } : undefined;
      try {
        download.start(part, {
          kind: 'open',
          op: 'start',
          id: part.id,
          source,
          dataKey,
          chunkSize,
          run,
          label,
          ring: part.ring.sab,
          slotBytes: part.ring.slotBytes,
          native: this.native,
          avx2: this.avx2,
          mapped: this.mapped,
          ...(stripe && { stripe }),
        });
      } catch (e) {
        // Never started (the threads are closed): nothing reads the source, nothing holds the rings.
        owner.release();
        download.letGoBudget();
        throw e;
      }
      this.downloads.get(part.thread)!.set(part.id, { download, part });
    }
    started?.(download);
    await download.firstSlot;
    download.handedOut = true;
    return download;
  }

  /** Downloads under way (for tests and diagnostics). */
  get active(): number {
    let n = 0;
    for (const m of this.downloads.values()) n += m.size;
    return n;
  }

  /** Bytes of the rings of downloads whose workers still read (for tests: what the budget counts, seen from the rings). */
  get ringBytesInFlight(): number {
    let n = 0;
    for (const m of this.downloads.values()) for (const { part } of m.values()) n += part.ring.sab.byteLength;
    return n;
  }

  /** Spare rings (for tests: a download that finished cleanly gives its ring back). */
  get spareRings(): number {
    let n = 0;
    for (const rings of this.spare.values()) n += rings.length;
    return n;
  }

  /** Bytes of the spare rings (for tests). */
  get spareRingBytes(): number {
    return this.spareBytes;
  }

  /** @internal */
  forget(thread: ByteThread, id: number): void {
    this.downloads.get(thread)?.delete(id);
  }

  /** @internal A download's rings are no longer its own: what it held of the budget is free. */
  release(grants: readonly BudgetGrant[]): void {
    for (const g of grants) this.budget.give(g);
  }

  /** @internal A ring no one holds any more. */
  giveBack(ring: Ring): void {
    const bytes = ring.sab.byteLength;
    if (this.spareBytes + bytes > this.maxSpareBytes) return;
    const key = `${ring.slotBytes}x${ring.slots}`;
    const rings = this.spare.get(key);
    if (rings) rings.push(ring);
    else this.spare.set(key, [ring]);
    this.spareBytes += bytes;
  }

  /**
   * A ring no larger than the run needs: a blob of one chunk (a config, a signature) gets one
   * chunk-sized slot, a run of a few chunks fewer slots. Measured (small blob GETs, 16 at once):
   * with every download asking for a full 3 MiB ring, allocating rings was a third of the main
   * thread's time, as the spares ran out whenever more than 8 downloads were under way.
   * A lean ring (the budget's full share is taken): at most two slots of one chunk.
   */
  private shape(chunkSize: number, run: ChunkRun, lean: boolean): Shape {
    const plain = (run.lastChunk - run.firstChunk + 1) * chunkSize;
    const slotBytes = plain <= chunkSize || lean ? chunkSize : Math.max(chunkSize, this.slotBytes);
    const slots = Math.min(lean ? Math.min(LEAN_SLOTS, this.slots) : this.slots, Math.ceil(plain / slotBytes));
    return { slotBytes, slots };
  }

  private ring({ slotBytes, slots }: Shape): Ring {
    const rings = this.spare.get(`${slotBytes}x${slots}`);
    const kept = rings?.pop();
    if (kept) {
      this.spareBytes -= kept.sab.byteLength;
      return kept;
    }
    this.ringsMade++;
    return { sab: new SharedArrayBuffer(slotBytes * slots), slotBytes, slots };
  }
}
