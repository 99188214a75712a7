/**
 * Checkpoints of the embedded database, off the event loop. Left to itself SQLite copies the WAL
 * back into the database file inside the commit that takes the WAL past 1,000 pages, on the
 * thread that commits — the event loop — and under synchronous=NORMAL that checkpoint fsyncs the
 * WAL and then the database file. While uploads were being written back those flushes took
 * 2–35 ms each (strace of the main thread while 300 small images were pushed: 58 fsyncs, 0.64 s,
 * the longest 263 ms; 6, 0.02 s, the longest 5 ms, with this), and no request was answered meanwhile.
 *
 * Once a runner is attached (`offload`: a byte thread with a connection of its own, see
 * app/byte-thread-checkpoints.ts, core/sqlite-checkpoint.ts) the event loop's connection no longer checkpoints (wal_autocheckpoint=0),
 * and the runner is asked for a PASSIVE checkpoint each time `everyWrites` more writes have been
 * made durable. PASSIVE never waits for a reader or a writer, and SQLite's WAL lets readers and
 * the writer go on while another connection checkpoints, so nothing on the event loop waits for
 * it. Durability does not move: a commit is durable once its WAL frames are flushed
 * (durable-commits.ts); a checkpoint only copies durable frames into the database file, and SQLite
 * reuses the WAL only after that file is synced. If the runner fails (its thread died, the file
 * could not be opened), that checkpoint runs here as before.
 *
 * SQLite starts the WAL over only when a write begins while every frame in it has been copied
 * back. A checkpoint inside the event loop's own commit guaranteed that; one on another thread
 * does not while writes keep coming (the frames committed during it are not yet copied when it
 * ends), so under a steady stream of writes the WAL would grow without bound. When the runner
 * reports more than `restartFrames` frames, the few left after its checkpoint are copied here, on
 * the event loop, and the next write starts the WAL over: one flush on the event loop per
 * `restartFrames` frames of unbroken writing instead of one per 1,000, and none when writes pause.
 */
import type { Db } from './open.js';

/** Runs a PASSIVE checkpoint of the database at `path` on another connection; `log`: the frames the WAL held. */
export type CheckpointRunner = (path: string) => Promise<{ log: number }>;

/**
 * About 3,000 pages (a write statement changes two or three): the WAL starts over after most
 * checkpoints, and the write that starts it flushes the WAL's new header on the event loop (1–7
 * ms measured), so checkpoints three times further apart than SQLite's own interval.
 */
const DEFAULT_EVERY_WRITES = 1000;
/** 32 MiB of 4 KiB pages. */
const DEFAULT_RESTART_FRAMES = 8192;

export interface CheckpointLimits {
  /** Durable writes between two checkpoints. */
  everyWrites: number;
  /** Frames in the WAL past which the event loop copies the rest itself, so that the WAL starts over. */
  restartFrames: number;
}

export class WalCheckpoints {
  #runner: CheckpointRunner | undefined;
  #requestedAt = 0;
  /**
   * The durable writes counted so far. A checkpoint that ends with a checkpoint's worth of writes
   * made durable while it ran starts the next at once: waiting for the next write, as SQLite's
   * autocheckpoint does, would leave those frames uncopied for as long as writes pause.
   */
  #durable = 0;
  #running = false;
  /** Checkpoints run by the runner, on the event loop after a runner failed, and on the event loop to start the WAL over. */
  readonly figures = { offLoop: 0, inline: 0, restart: 0 };

  constructor(
    private readonly db: Db,
    private readonly path: string,
    private readonly limits: CheckpointLimits = { everyWrites: DEFAULT_EVERY_WRITES, restartFrames: DEFAULT_RESTART_FRAMES },
  ) {}

  /** From now on checkpoints run through `runner`; the event loop's connection stops running them. */
  offload(runner: CheckpointRunner): void {
    if (this.path === ':memory:') return;
    this.db.pragma('wal_autocheckpoint = 0');
    this.#runner = runner;
  }

  /** Told the count of writes now durable (durable-commits.ts); starts a checkpoint when enough have built up. */
  durable(writes: number): void {
    this.#durable = writes;
    this.#start();
  }

  #start(): void {
    const runner = this.#runner;
    if (!runner || this.#running || this.#durable - this.#requestedAt < this.limits.everyWrites) return;
    this.#requestedAt = this.#durable;
    this.#running = true;
    Promise.resolve(this.path)
      .then(runner)
      .then(
        ({ log }) => {
          this.figures.offLoop++;
          this.#running = false;
          if (log > this.limits.restartFrames && this.#here()) this.figures.restart++;
          this.#start();
        },
        () => {
          this.#running = false;
          if (this.#here()) this.figures.inline++;
          this.#start();
        },
      );
  }

  /** A checkpoint on the event loop's connection; false if none ran. Runs in a promise's callback: it must not throw. */
  #here(): boolean {
    if (!this.db.open) return false;
    try {
      this.db.pragma('wal_checkpoint(PASSIVE)');
      return true;
    } catch {
      // An I/O error copying back: the frames stay in the WAL, the next checkpoint tries again.
      return false;
    }
  }

  /** Stops asking the runner (its threads are about to close): the connection checkpoints itself again. */
  detach(): void {
    if (!this.#runner) return;
    this.#runner = undefined;
    if (this.db.open) this.db.pragma('wal_autocheckpoint = 1000');
  }
}
