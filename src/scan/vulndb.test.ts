import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createSqliteMetadataStore } from '../metadata/sqlite/sqlite-store.js';
import { buildZip } from './inventory/testing/fixtures.js';
import { REEVALUATE_JOB } from './scanner.js';
import { importAdvisories } from './vulndb.js';

const advisory = (id: string, modified: string) =>
  JSON.stringify({
    id,
    modified,
    affected: [{ package: { ecosystem: 'npm', name: 'lodash' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '4.17.21' }] }] }],
  });

describe('importAdvisories', () => {
  it('loads an OSV zip incrementally, skipping invalid records, and queues a re-evaluation only on change', async () => {
    const meta = createSqliteMetadataStore({ path: ':memory:' });
    const clock = { now: () => new Date('2026-02-01T00:00:00Z') };
    const dir = await mkdtemp(join(tmpdir(), 'berth-osv-'));
    const zip = (records: Array<[string, string]>) => buildZip(records.map(([name, data]) => ({ name, data: Buffer.from(data) })));
    const first = join(dir, 'npm.zip');
    await writeFile(
      first,
      zip([
        ['GHSA-1.json', advisory('GHSA-1', '2026-01-01T00:00:00Z')],
        ['GHSA-2.json', advisory('GHSA-2', '2026-01-01T00:00:00Z')],
        ['bad.json', '{"id":1}'],
        ['README.txt', 'not json'],
      ]),
    );
    const r1 = await importAdvisories(meta, clock, first);
    assert.deepEqual([r1.source, r1.read, r1.changed, r1.invalid.length], ['npm', 3, 2, 1]);
    assert.equal(await meta.jobs.pending(REEVALUATE_JOB), 1);

    const again = await importAdvisories(meta, clock, first);
    assert.equal(again.changed, 0, 'the same records change nothing');
    assert.equal(await meta.jobs.pending(REEVALUATE_JOB), 1, 'and queue no re-evaluation');

    const newer = join(dir, 'npm-update.zip');
    await writeFile(
      newer,
      zip([
        ['GHSA-1.json', advisory('GHSA-1', '2026-01-15T00:00:00Z')],
        ['GHSA-2.json', advisory('GHSA-2', '2025-12-01T00:00:00Z')],
      ]),
    );
    const r3 = await importAdvisories(meta, clock, newer, 'npm');
    assert.equal(r3.changed, 1, 'only the record with a newer modified replaces the stored one');
    const stored = await meta.scans.advisories('', 10);
    assert.deepEqual(
      stored.map((a) => a.id),
      ['GHSA-1', 'GHSA-2'],
    );
    assert.match(stored[0]!.document, /2026-01-15/);
    assert.deepEqual(
      (await meta.scans.sources()).map((s) => [s.name, s.advisories]),
      [['npm', 2]],
    );
    await assert.rejects(importAdvisories(meta, clock, first, 'bad name!'), /source name/);
    await meta.close();
  });
});
