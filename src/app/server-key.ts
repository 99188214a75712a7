/**
 * The server key: 32 random bytes that seal access-key secrets at rest and authenticate login
 * tokens. Taken from config (base64, for several nodes that must share it) or generated once
 * under the data directory with owner-only permissions. Never logged.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function loadServerKey(opts: { dataDir: string; configured?: string }): Buffer {
  if (opts.configured !== undefined) return decode(opts.configured, 'serverKey');
  const path = join(opts.dataDir, 'server.key');
  try {
    return decode(readFileSync(path, 'utf8').trim(), path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  mkdirSync(opts.dataDir, { recursive: true });
  try {
    // 'wx' fails if another process created it first; then read theirs.
    writeFileSync(path, randomBytes(32).toString('base64') + '\n', { flag: 'wx', mode: 0o600 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return decode(readFileSync(path, 'utf8').trim(), path);
}

function decode(text: string, where: string): Buffer {
  const key = Buffer.from(text, 'base64');
  if (key.length !== 32) throw new Error(`${where}: the server key must be 32 bytes, base64-encoded`);
  return key;
}
