import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../config/load.js';
import { CliError } from './command.js';
import { localData, requireDataDir } from './data-dir.js';

const KEY = Buffer.alloc(32, 7).toString('base64');

describe('the data directory rule', () => {
  it('needs the directory for whatever lives there, and nothing when all is remote', () => {
    assert.deepEqual(localData(loadConfig({ env: {} }), 'registry'), ['the SQLite metadata', 'the server key', 'the blobs']);
    const pg = { BERTH_DATABASE_URL: 'postgres://db/berth' };
    assert.deepEqual(localData(loadConfig({ env: pg }), 'metadata'), ['the server key']);
    assert.deepEqual(localData(loadConfig({ env: { ...pg, BERTH_SERVER_KEY: KEY } }), 'metadata'), []);
    assert.deepEqual(localData(loadConfig({ env: { ...pg, BERTH_SERVER_KEY: KEY } }), 'registry'), ['the blobs']);
    assert.deepEqual(localData(loadConfig({ env: { ...pg, BERTH_SERVER_KEY: KEY, BERTH_STORAGE: 's3://bucket/p' } }), 'registry'), []);
  });

  it('refuses a missing directory with exit 1, and accepts it when nothing local is used', () => {
    const missing = join(mkdtempSync(join(tmpdir(), 'berth-dd-')), 'nope');
    assert.throws(
      () => requireDataDir(loadConfig({ env: {}, flags: { dataDir: missing } }), 'metadata'),
      (e: unknown) => e instanceof CliError && e.exitCode === 1 && e.message.includes(missing),
    );
    requireDataDir(loadConfig({ env: { BERTH_DATABASE_URL: 'postgres://db/berth', BERTH_SERVER_KEY: KEY }, flags: { dataDir: missing } }), 'metadata');
    const existing = mkdtempSync(join(tmpdir(), 'berth-dd-'));
    requireDataDir(loadConfig({ env: {}, flags: { dataDir: existing } }), 'registry');
    assert.deepEqual(readdirSync(existing), []);
  });
});
