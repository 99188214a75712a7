/**
 * Helpers for the garbage-collection tests: small images over raw HTTP, byte-exact pulls, the
 * `berth gc` / `berth usage` CLI run against a server's data directory, and a read-only look
 * at what the metadata and the blob store hold.
 */
import Database from 'better-sqlite3';
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { GcReport } from '../../../src/gc/collector.js';
import { cliPath } from './berth-process.js';
import { MediaTypes } from './oci-layout.js';
import { getBlob, getManifest, pushBlob, pushManifest, sha256, type TestImage } from './registry-http.js';

export { makeImage, type TestImage } from './registry-http.js';

const run = promisify(execFile);

/** Pushes blobs then the manifest by tag; throws with the server's answer unless all are 201. */
export async function pushImage(base: string, img: TestImage): Promise<void> {
  await Promise.all(
    [...img.blobs.values()].map(async (data) => {
      const res = await pushBlob(base, img.repo, data);
      if (res.status !== 201) throw new PushError(`blob push to ${img.repo} → ${res.status} ${res.body.toString()}`, res.status);
    }),
  );
  const res = await pushManifest(base, img.repo, img.tag, img.manifest, MediaTypes.manifest);
  if (res.status !== 201) throw new PushError(`manifest PUT ${img.repo}:${img.tag} → ${res.status} ${res.body.toString()}`, res.status);
}

export class PushError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** Pulls repo:tag and every blob it references, checking each digest; returns what failed. */
export async function pullProblems(base: string, repo: string, tag: string): Promise<string[]> {
  const m = await getManifest(base, repo, tag);
  if (m.status !== 200) return [`${repo}:${tag} manifest → ${m.status}`];
  if (m.headers.get('docker-content-digest') !== sha256(m.body)) return [`${repo}:${tag} manifest digest mismatch`];
  const parsed = JSON.parse(m.body.toString()) as { config: { digest: string }; layers: Array<{ digest: string }> };
  const problems: string[] = [];
  for (const d of [parsed.config.digest, ...parsed.layers.map((l) => l.digest)]) {
    const b = await getBlob(base, repo, d);
    if (b.status !== 200) problems.push(`${repo}:${tag} blob ${d} → ${b.status}`);
    else if (sha256(b.body) !== d) problems.push(`${repo}:${tag} blob ${d} hashes to ${sha256(b.body)}`);
  }
  return problems;
}

export const blobFile = (dataDir: string, digest: string) => {
  const hex = digest.slice('sha256:'.length);
  return join(dataDir, 'blobs', 'sha256', hex.slice(0, 2), hex);
};

/** What `berth gc --json` prints: the collector's own report. */
export type GcRunReport = GcReport;

/** Runs the built CLI as a user would, against a data directory, with extra environment. */
export async function berthCli(args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [cliPath, ...args], { env: { ...process.env, BERTH_LOG_LEVEL: 'warn', ...env }, maxBuffer: 64 * 1024 * 1024 });
}

export async function runGc(dataDir: string, opts: { graceSeconds?: number; dryRun?: boolean } = {}): Promise<GcRunReport> {
  const { stdout } = await berthCli(['gc', '--data-dir', dataDir, '--json', ...(opts.dryRun ? ['--dry-run'] : [])], {
    BERTH_GC_GRACE_SECONDS: String(opts.graceSeconds ?? 0),
  });
  return JSON.parse(stdout) as GcRunReport;
}

/** Opens the server's metadata read-write beside it (WAL), for checks and for ageing rows. */
export function openMetadata(dataDir: string): Database.Database {
  const db = new Database(join(dataDir, 'metadata.db'));
  db.pragma('busy_timeout = 10000');
  return db;
}

/** Every blob file in the fs blob store, as digests. */
export async function storedDigests(dataDir: string): Promise<Set<string>> {
  const out = new Set<string>();
  const root = join(dataDir, 'blobs', 'sha256');
  for (const fan of await readdir(root).catch(() => [] as string[])) {
    for (const hex of await readdir(join(root, fan))) out.add(`sha256:${hex}`);
  }
  return out;
}
