/**
 * Composes the audit trail: the observer that records each request, the writer that batches
 * records into the metadata store (and the auditLog file), and the retention task that prunes
 * records older than auditRetentionDays on one node at a time.
 */
import { closeSync, createWriteStream, mkdirSync, openSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { AuditWriter } from '../audit/audit-writer.js';
import type { Clock } from '../core/clock.js';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { AuditTrail } from '../http/audit-trail.js';
import type { MetadataStore } from '../metadata/types.js';
import { PeriodicTask } from './periodic.js';

const RETENTION_INTERVAL_MS = 3600_000;

export interface AuditComposition {
  readonly observer: AuditTrail;
  readonly writer: AuditWriter;
  readonly retention: PeriodicTask;
  start(): void;
  reopen(): void;
  stop(): Promise<void>;
}

/** The audit trail the configuration asks for; undefined when it is off (auditRetentionDays 0). */
export function createAudit(config: Config, meta: MetadataStore, clock: Clock, log: Logger): AuditComposition | undefined {
  if (config.auditRetentionDays === 0) return undefined;
  const file = config.auditLog === undefined ? undefined : new JsonLinesFile(config.auditLog);
  const writer = new AuditWriter({ store: meta.audit, clock, log, retentionDays: config.auditRetentionDays, ...(file && { file }) });
  const retention = new PeriodicTask({
    name: 'audit-retention',
    intervalMs: RETENTION_INTERVAL_MS,
    leases: meta.leases,
    clock,
    log,
    run: async () => {
      const pruned = await writer.prune();
      if (pruned > 0) log.info({ pruned, retentionDays: config.auditRetentionDays }, 'audit records past retention deleted');
    },
  });
  return {
    observer: new AuditTrail(writer, clock, config.region, log),
    writer,
    retention,
    start() {
      writer.start();
      retention.start();
    },
    reopen: () => file?.reopen(),
    async stop() {
      await retention.stop();
      await writer.stop();
      await file?.close();
    },
  };
}

/** An append-only file of JSON lines, reopened at the same path after logrotate moved it (SIGHUP). */
class JsonLinesFile {
  #out: WriteStream;

  constructor(private readonly path: string) {
    // Tried here, at start, so a path that cannot be written is a clear start-up error.
    try {
      mkdirSync(dirname(path), { recursive: true });
      closeSync(openSync(path, 'a', 0o640));
    } catch (e) {
      throw new ConfigError(`auditLog: cannot open ${path}: ${(e as Error).message}`);
    }
    this.#out = this.#open();
  }

  #open(): WriteStream {
    const out = createWriteStream(this.path, { flags: 'a', mode: 0o640 });
    out.on('error', () => undefined);
    return out;
  }

  write(text: string): void {
    this.#out.write(text);
  }

  reopen(): void {
    this.#out.end();
    this.#out = this.#open();
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#out.end(resolve));
  }
}
