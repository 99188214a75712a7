/**
 * Records the transfer ECR bills on, per repository and day, off the request path: each /v2
 * pull (manifest and blob reads: bytes out, and manifest GETs as pulls) and push (upload bodies
 * and manifest puts: bytes in) that succeeded adds to counters in memory, written as one batch
 * of upserts with increments every few seconds and on close (so several nodes add up). A crash
 * loses at most the last interval's figures; a failed write keeps them for the next flush.
 */
import type { RegistryKey } from '../core/registry-key.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import { closeTime, type RequestFacts, type RequestObserver } from '../http/request-facts.js';
import { dayOf, type TransferDelta, type UsageStore } from '../metadata/usage.js';

const PULLED = new Set(['manifest-read', 'blob-read']);
const PUSHED = new Set(['upload-write', 'upload-complete', 'manifest-write']);
/** Keys held in memory before a flush is started early (and the most kept after failed writes). */
const MAX_PENDING = 50_000;

type Pending = Map<number, Map<RegistryKey, Map<string, TransferDelta>>>;

export class UsageRecorder implements RequestObserver {
  private pending: Pending = new Map();
  private size = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  // The last entry and what found it: a flood's next request adds to the same one, and three
  // comparisons are cheaper than three Map lookups (one hashing a fresh repository name).
  private lastDay = -1;
  private lastKey: RegistryKey | undefined;
  private lastRepository: string | undefined;
  private lastEntry: TransferDelta | undefined;

  constructor(private readonly deps: { usage: UsageStore; clock: Clock; log: Logger }) {}

  requestClosed(req: IncomingMessage, res: ServerResponse, facts: Readonly<RequestFacts>): void {
    const repo = facts.repository;
    const op = facts.operation?.name;
    if (repo === undefined || op === undefined || res.statusCode >= 400) return;
    const bytesOut = PULLED.has(op) ? facts.bytes.sent : 0;
    const bytesIn = PUSHED.has(op) ? facts.bytes.received : 0;
    const pulls = op === 'manifest-read' && req.method === 'GET' && res.statusCode === 200 ? 1 : 0;
    if (bytesIn === 0 && bytesOut === 0 && pulls === 0) return;
    const d = this.entry(dayOf(closeTime(facts, this.deps.clock)), repo.registryKey, repo.name);
    d.bytesIn += bytesIn;
    d.bytesOut += bytesOut;
    d.pulls += pulls;
  }

  /** Writes what was recorded since the last flush. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.size = 0;
    this.lastEntry = undefined;
    const deltas = [...batch.values()].flatMap((regs) => [...regs.values()].flatMap((repos) => [...repos.values()]));
    this.flushing = this.deps.usage.addTransfer(deltas).then(
      () => undefined,
      (err: unknown) => {
        this.deps.log.warn({ err, rows: deltas.length }, 'could not record usage; keeping it for the next flush');
        for (const d of deltas) {
          if (this.size >= MAX_PENDING) break;
          const e = this.entry(d.day, d.registryKey, d.repository);
          e.bytesIn += d.bytesIn;
          e.bytesOut += d.bytesOut;
          e.pulls += d.pulls;
        }
      },
    );
    try {
      await this.flushing;
    } finally {
      this.flushing = undefined;
    }
  }

  /** Flushes every `ms` until stopped. */
  start(ms: number): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), ms);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private entry(day: number, registryKey: RegistryKey, repository: string): TransferDelta {
    if (this.lastEntry !== undefined && day === this.lastDay && registryKey === this.lastKey && repository === this.lastRepository) return this.lastEntry;
    let regs = this.pending.get(day);
    if (!regs) this.pending.set(day, (regs = new Map()));
    let repos = regs.get(registryKey);
    if (!repos) regs.set(registryKey, (repos = new Map()));
    let d = repos.get(repository);
    if (!d) {
      repos.set(repository, (d = { day, registryKey, repository, bytesIn: 0, bytesOut: 0, pulls: 0 }));
      if (++this.size >= MAX_PENDING) void this.flush();
    }
    // Kept only while it is in the pending map (a flush started above has taken it away).
    if (this.pending.get(day)?.get(registryKey) === repos) {
      this.lastDay = day;
      this.lastKey = registryKey;
      this.lastRepository = repository;
      this.lastEntry = d;
    }
    return d;
  }
}
