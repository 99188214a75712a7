/**
 * Commands other than `serve` work on an existing registry: run against a data directory that
 * does not exist (the wrong folder, a typo), they must not create a fresh one with a new server
 * key and report an empty registry. What "must exist" means depends on what lives locally.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Config } from '../config/schema.js';
import { CliError } from './command.js';

/** What of the registry this configuration keeps in the data directory. */
export function localData(config: Config, use: 'metadata' | 'registry'): string[] {
  const kept: string[] = [];
  if (config.databaseUrl === undefined) kept.push('the SQLite metadata');
  if (config.serverKey === undefined) kept.push('the server key');
  if (use === 'registry' && config.storage === undefined) kept.push('the blobs');
  return kept;
}

/**
 * Throws (exit 1) unless the data directory exists when anything this command uses lives there.
 * With PostgreSQL and no configured serverKey, the directory alone is not enough: the server key
 * must be there too, since a key generated here would not be the one the servers seal with.
 */
export function requireDataDir(config: Config, use: 'metadata' | 'registry'): void {
  const kept = localData(config, use);
  if (kept.length === 0) return;
  const dir = resolve(config.dataDir);
  const how = `Run it from the folder that holds the data directory, or point at it with --data-dir DIR or BERTH_DATA_DIR (only 'berth serve' creates one).`;
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new CliError(`data directory ${dir} does not exist (it would hold ${kept.join(', ')}). ${how}`, 1);
  }
  if (config.databaseUrl !== undefined && config.serverKey === undefined && !existsSync(join(dir, 'server.key'))) {
    throw new CliError(
      `${join(dir, 'server.key')} does not exist: with databaseUrl set, the server key is this directory's server.key (written by 'berth serve') or serverKey (BERTH_SERVER_KEY). ${how}`,
      1,
    );
  }
}
