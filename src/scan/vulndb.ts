/**
 * Loading OSV advisories into the metadata store: a directory of OSV JSON files (searched
 * recursively) or a zip as OSV.dev publishes them (`<ecosystem>/all.zip`). Incremental: a record
 * replaces the stored one only when its `modified` is newer. Invalid records are counted and
 * skipped, never half-stored. After a change, a re-evaluation job is queued so images under
 * CONTINUOUS_SCAN get updated findings without their layers being read again.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { Clock } from '../core/clock.js';
import type { MetadataStore } from '../metadata/types.js';
import { MAX_RECORD_BYTES, parseOsv } from './advisories/osv.js';
import { readCentralDirectory, readEntry } from './inventory/zip.js';
import { REEVALUATE_JOB } from './scanner.js';

const BATCH = 1000;
/** A zip is read whole; OSV's largest ecosystem archives are a few hundred MiB. */
const MAX_ZIP_BYTES = 2 * 1024 ** 3;
const MAX_FILES = 2_000_000;

export interface ImportReport {
  source: string;
  read: number;
  changed: number;
  invalid: Array<{ file: string; error: string }>;
}

export async function importAdvisories(meta: MetadataStore, clock: Clock, path: string, source?: string): Promise<ImportReport> {
  const name = source ?? basename(path, extname(path));
  if (!/^[A-Za-z0-9._:-]{1,64}$/.test(name)) throw new Error(`source name ${JSON.stringify(name)} must be 1-64 of [A-Za-z0-9._:-]`);
  const report: ImportReport = { source: name, read: 0, changed: 0, invalid: [] };
  let batch: Array<{ id: string; modified: Date; document: string }> = [];
  const flush = async () => {
    if (batch.length > 0) report.changed += await meta.scans.putAdvisories(name, batch, clock.now());
    batch = [];
  };
  for await (const { file, bytes } of records(path)) {
    report.read++;
    const parsed = parseOsv(bytes);
    if (!parsed.ok) {
      if (report.invalid.length < 100) report.invalid.push({ file, error: parsed.error });
      continue;
    }
    batch.push({ id: parsed.advisory.id, modified: new Date(parsed.advisory.modified), document: bytes.toString('utf8') });
    if (batch.length >= BATCH) await flush();
  }
  await flush();
  // Record the import even when nothing changed, so `vulndb status` shows when it was checked.
  if (report.changed === 0) await meta.scans.putAdvisories(name, [], clock.now());
  else await meta.jobs.enqueue([{ kind: REEVALUATE_JOB, payload: { source: name } }], clock.now());
  return report;
}

async function* records(path: string): AsyncGenerator<{ file: string; bytes: Buffer }> {
  const info = await stat(path);
  if (info.isDirectory()) {
    yield* directory(path, { count: 0 });
    return;
  }
  if (extname(path).toLowerCase() === '.zip') {
    if (info.size > MAX_ZIP_BYTES) throw new Error(`${path} is larger than ${MAX_ZIP_BYTES} bytes`);
    const zip = await readFile(path);
    for (const e of readCentralDirectory(zip)) {
      if (!e.name.toLowerCase().endsWith('.json')) continue;
      if (e.size > MAX_RECORD_BYTES) {
        yield { file: e.name, bytes: Buffer.from('{}') }; // counted as invalid by the parser
        continue;
      }
      yield { file: e.name, bytes: readEntry(zip, e, MAX_RECORD_BYTES) };
    }
    return;
  }
  yield { file: path, bytes: await readFile(path) };
}

async function* directory(dir: string, seen: { count: number }): AsyncGenerator<{ file: string; bytes: Buffer }> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* directory(p, seen);
    else if (e.isFile() && e.name.toLowerCase().endsWith('.json')) {
      if (++seen.count > MAX_FILES) throw new Error(`more than ${MAX_FILES} files under ${dir}`);
      const size = (await stat(p)).size;
      yield { file: p, bytes: size > MAX_RECORD_BYTES ? Buffer.from('{}') : await readFile(p) };
    }
  }
}
