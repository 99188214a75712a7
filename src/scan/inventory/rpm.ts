/**
 * RPM packages from the sqlite rpmdb (RHEL/Alma/Rocky 9+, Fedora 33+, openSUSE since 2021),
 * at /var/lib/rpm/rpmdb.sqlite or /usr/lib/sysimage/rpm/rpmdb.sqlite. The kept bytes are
 * written to a private temp file, because sqlite opens files, not buffers; the file is deleted
 * before returning. The database is untrusted: Packages must be a plain table (a view could
 * run an endless recursive query on the event loop) and the row count is bounded.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CorruptLayerError, ScanLimitError } from '../layers/errors.js';
import type { ScanLimits } from '../layers/limits.js';
import { osEcosystem } from './ecosystems.js';
import { parseRpmHeader, parseSourceRpm } from './rpm-header.js';
import type { Extractor, Package } from './types.js';

const PATHS = ['var/lib/rpm/rpmdb.sqlite', 'usr/lib/sysimage/rpm/rpmdb.sqlite'];
const MAX_ROWS = 200_000;

export const rpmExtractor: Extractor = {
  name: 'rpm',
  rules: (limits: ScanLimits) => [{ id: 'rpmdb', match: (p) => PATHS.includes(p), maxBytes: limits.maxRpmdbBytes }],
  extract({ view, os }) {
    const ecosystem = osEcosystem(os, 'rpm');
    const out: Package[] = [];
    for (const f of view.files((p) => PATHS.includes(p))) {
      for (const h of readRpmdb(f.data)) {
        // gpg-pubkey "packages" are imported signing keys, not software.
        if (h.name === 'gpg-pubkey') continue;
        const epoch = h.epoch ? `${h.epoch}:` : '';
        const src = h.sourceRpm ? parseSourceRpm(h.sourceRpm) : undefined;
        out.push({
          ecosystem,
          name: h.name,
          version: `${epoch}${h.version}-${h.release}`,
          // A source rpm carries no epoch of its own; it is the binary's (as dnf and Trivy assume).
          sourceName: src?.name,
          sourceVersion: src ? `${epoch}${src.version}-${src.release}` : undefined,
          path: f.path,
        });
      }
    }
    return out;
  },
};

export function readRpmdb(bytes: Buffer): ReturnType<typeof parseRpmHeader>[] {
  const dir = mkdtempSync(join(tmpdir(), 'berth-rpmdb-'));
  try {
    const file = join(dir, 'rpmdb.sqlite');
    const copy = Buffer.from(bytes);
    // Header bytes 18/19 = 2 mean WAL mode, which needs the -wal/-shm files we do not have;
    // 1 (rollback journal) lets a read-only open see the checkpointed database as it is.
    if (copy.length >= 100 && copy[18] === 2 && copy[19] === 2) copy[18] = copy[19] = 1;
    writeFileSync(file, copy, { mode: 0o600 });
    let db: Database.Database | undefined;
    try {
      db = new Database(file, { readonly: true, fileMustExist: true });
      db.pragma('trusted_schema = OFF');
      const def = db.prepare("SELECT type, sql FROM sqlite_master WHERE name = 'Packages'").get() as { type: string; sql: string } | undefined;
      if (def?.type !== 'table' || !/^CREATE TABLE/i.test(def.sql)) throw new CorruptLayerError('rpmdb.sqlite has no Packages table');
      const out: ReturnType<typeof parseRpmHeader>[] = [];
      for (const row of db.prepare('SELECT blob FROM Packages').iterate() as Iterable<{ blob: unknown }>) {
        if (out.length >= MAX_ROWS) throw new ScanLimitError('rpmdbRows', MAX_ROWS, 'rpmdb has too many packages');
        if (!(row.blob instanceof Uint8Array)) continue;
        try {
          out.push(parseRpmHeader(row.blob));
        } catch {
          // One damaged header costs that package, as it does for rpm -qa.
        }
      }
      return out;
    } catch (e) {
      if (e instanceof CorruptLayerError || e instanceof ScanLimitError) throw e;
      throw new CorruptLayerError(`rpmdb.sqlite is unreadable: ${(e as Error).message}`, { cause: e });
    } finally {
      db?.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
