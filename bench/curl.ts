/**
 * curl as the client: the lightest one there is, so the figures are the server's. Headers go
 * through a file (`-H @file`, owner-only) so a login token never shows in the process list.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Server } from './servers.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

/** Writes the server's headers (and none of curl's `Expect: 100-continue`) to a file for `-H @file`. */
export async function headerFile(server: Server, dir: string): Promise<string> {
  const path = join(dir, `headers-${server.name}`);
  const lines = [...Object.entries(server.headers).map(([k, v]) => `${k}: ${v}`), 'Expect:'];
  await writeFile(path, lines.join('\n') + '\n', { mode: 0o600 });
  return path;
}

/** A file of `bytes` fresh random bytes (unique per `salt`); returns its digest. */
export async function randomFile(path: string, bytes: number, salt: string): Promise<string> {
  const hash = createHash('sha256');
  const f = await open(path, 'w');
  try {
    const chunk = Buffer.alloc(Math.min(bytes, 8 * MiB));
    const head = Buffer.from(`${salt}\n`);
    for (let written = 0; written < bytes; ) {
      const n = Math.min(chunk.length, bytes - written);
      randomFillSync(chunk, 0, n);
      if (written === 0) head.copy(chunk, 0, 0, Math.min(head.length, n));
      hash.update(chunk.subarray(0, n));
      await f.write(chunk, 0, n);
      written += n;
    }
  } finally {
    await f.close();
  }
  return `sha256:${hash.digest('hex')}`;
}

/**
 * POST to open an upload; the absolute URL of the PUT that closes it with `digest`.
 *
 * The POST's connection is closed once it is answered, as a real client leaves it: skopeo and
 * docker's own pusher disable keep-alive (containers/image `tlsclientconfig.NewTransport`, moby's
 * registry transport: `DisableKeepAlives: true`), so each request has its connection; a Go client
 * that keeps alive sends the PATCH/PUT on the POST's connection. Either way an upload that
 * streams has one connection. Left to fetch's pool, each POST's connection stayed open and idle
 * beside the curl streaming the body, and a crowd of 200 uploads held 400 connections on either
 * server (notes/2026-12-06-s23-rss.md).
 */
export async function openUpload(server: Server, repo: string, digest: string): Promise<string> {
  const res = await fetch(`${server.url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: { ...server.headers, Connection: 'close' } });
  await res.arrayBuffer();
  if (res.status !== 202) throw new Error(`${server.name}: POST upload answered ${res.status}`);
  const url = new URL(res.headers.get('location')!, server.url);
  url.searchParams.set('digest', digest);
  return url.toString();
}

export interface CurlResult {
  status: number;
  bytes: number;
  seconds: number;
}

const WRITE_OUT = ['-w', '%{http_code} %{size_upload} %{size_download} %{time_total}'];

function parse(stdout: string, upload: boolean): CurlResult {
  const [status, up, down, seconds] = stdout.trim().split(' ').map(Number);
  return { status: status!, bytes: upload ? up! : down!, seconds: seconds! };
}

/** Monolithic upload's second half: PUT ?digest= with the file as the body. */
export async function curlPut(url: string, headers: string, file: string): Promise<CurlResult> {
  const { stdout } = await run('curl', [
    '-sS',
    '-o',
    '/dev/null',
    ...WRITE_OUT,
    '-H',
    `@${headers}`,
    '-H',
    'Content-Type: application/octet-stream',
    '-T',
    file,
    url,
  ]);
  return parse(stdout, true);
}

/**
 * A download to /dev/null, with curl's own CPU-seconds (user + system, from bash's `times`): how
 * a server sends changes what the client spends receiving the same bytes on loopback (measured:
 * curl 0.18–0.26 CPU-s/GiB downloading from Berth's send pipe, 0.34–0.56 from its serial path and
 * from the reference; notes/2026-12-06-s23-down.md), so the server's figure alone does not
 * compare two ways of sending.
 */
export async function curlGet(url: string, headers: string): Promise<CurlResult & { clientCpu: number }> {
  // curl's exit status stays the call's, so a failed download still rejects as it did.
  const script = 'curl "$@"; s=$?; times >&2; exit $s';
  const { stdout, stderr } = await run('bash', ['-c', script, 'curl', '-sS', '-o', '/dev/null', ...WRITE_OUT, '-H', `@${headers}`, url], {
    maxBuffer: 1 << 20,
  });
  return { ...parse(stdout, false), clientCpu: childCpu(stderr) };
}

/** The children's user + system seconds from the second line of bash's `times` (`0m0.180s 0m0.052s`), NaN if absent. */
export function childCpu(times: string): number {
  const line = times.trim().split('\n').at(-1) ?? '';
  const m = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/.exec(line.trim());
  return m ? Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]) : NaN;
}

/** A PUT streaming the file at `rate` (curl's --limit-rate, e.g. "1M"); the process, not yet waited for. */
export function spawnRateLimitedPut(url: string, headers: string, file: string, rate: string): { child: ChildProcess; done: Promise<CurlResult> } {
  const child = spawn(
    'curl',
    ['-sS', '-o', '/dev/null', ...WRITE_OUT, '--limit-rate', rate, '-H', `@${headers}`, '-H', 'Content-Type: application/octet-stream', '-T', file, url],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<CurlResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(parse(out, true)) : reject(new Error(`curl exited ${code}: ${err.trim()}`))));
  });
  return { child, done };
}
