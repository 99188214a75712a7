/**
 * Login tokens cached in one owner-only file (`$XDG_CACHE_HOME/berth/credential-helper.json`,
 * else `~/.cache/berth/...`), keyed by endpoint and access key id, so a pull of many layers asks
 * Berth once per token rather than once per docker call. A token holds registry access until it
 * expires, so the file is written 0600 in a 0700 directory, replaced atomically (temp + rename),
 * and an unreadable or malformed file is treated as empty rather than trusted.
 */
import { chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Login } from './protocol.js';

/** A token is not handed out this close to its expiry: a pull started with it must still finish. */
export const REFRESH_BEFORE_EXPIRY_MS = 5 * 60 * 1000;
const MAX_ENTRIES = 100;

interface Entry {
  username: string;
  password: string;
  expiresAt: number;
}

export function cacheFile(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME !== '' ? env.XDG_CACHE_HOME : join(env.HOME ?? homedir(), '.cache');
  return join(base, 'berth', 'credential-helper.json');
}

export function cacheKey(endpoint: string, accessKeyId: string): string {
  return `${endpoint} ${accessKeyId}`;
}

async function readEntries(file: string): Promise<Record<string, Entry>> {
  try {
    const body = JSON.parse(await readFile(file, 'utf8')) as unknown;
    return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, Entry>) : {};
  } catch {
    return {};
  }
}

function isEntry(e: unknown): e is Entry {
  const x = e as Partial<Entry> | undefined;
  return typeof x?.username === 'string' && typeof x.password === 'string' && typeof x.expiresAt === 'number';
}

/** The cached login for `key` when it is still good for more than REFRESH_BEFORE_EXPIRY_MS. */
export async function cachedLogin(file: string, key: string, now: Date): Promise<Login | undefined> {
  const e = (await readEntries(file))[key];
  if (!isEntry(e) || e.expiresAt - now.getTime() <= REFRESH_BEFORE_EXPIRY_MS) return undefined;
  return { username: e.username, password: e.password, expiresAt: new Date(e.expiresAt) };
}

/** Stores `login` under `key`, dropping expired entries. A cache that cannot be written is no error. */
export async function storeLogin(file: string, key: string, login: Login, now: Date): Promise<void> {
  const dir = join(file, '..');
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const entries = await readEntries(file);
    const kept: Record<string, Entry> = {};
    for (const [k, e] of Object.entries(entries).slice(-MAX_ENTRIES)) if (isEntry(e) && e.expiresAt > now.getTime()) kept[k] = e;
    kept[key] = { username: login.username, password: login.password, expiresAt: login.expiresAt.getTime() };
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(kept));
      await fh.sync();
    } finally {
      await fh.close();
    }
    // open's mode is only applied to a new file; a stale temp file keeps its own.
    await chmod(tmp, 0o600);
    await rename(tmp, file);
  } catch {
    await rm(tmp, { force: true });
  }
}
