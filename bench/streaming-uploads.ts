/**
 * Many slow uploads at once: each a POST, then a curl PUT streaming a file at a capped rate. The
 * set is "streaming" once every curl has read part of its body from its file (rchar in
 * /proc/PID/io; curl reads the body only as fast as --limit-rate lets it send, and nothing else
 * it reads comes near that size: sends on a socket are not in wchar), so a measurement taken then
 * sees all of them in flight, not some still connecting.
 *
 * The curls are started together: each is stopped (SIGSTOP) as soon as it is spawned, and all go
 * on (SIGCONT) once the last is spawned. Spawning 200 processes on a busy 2-core machine took
 * 20-48 s, longer than a 16 MiB upload at 1 MB/s lasts, so the first uploads ended before the
 * last had started and the crowd never streamed all at once. A curl stopped at spawn has only
 * just been exec'd (Node's spawn returns once exec succeeded): it has not connected yet, so the
 * server sees nothing of it until it goes on, and its rate limit counts from then.
 */
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { openUpload, randomFile, spawnRateLimitedPut, type CurlResult } from './curl.js';
import type { Server } from './servers.js';

/** Enough body on the wire to tell a streaming upload from one still sending its headers. */
const STREAMING_BYTES = 512 * 1024;

export interface UploadFiles {
  files: Array<{ path: string; digest: string }>;
  remove(): Promise<void>;
}

export async function makeUploadFiles(dir: string, count: number, bytes: number, salt: string): Promise<UploadFiles> {
  const files: UploadFiles['files'] = [];
  for (let i = 0; i < count; i++) {
    const path = join(dir, `stream-${i}.bin`);
    files.push({ path, digest: await randomFile(path, bytes, `${salt} ${i} ${Date.now()}`) });
  }
  return { files, remove: async () => void (await Promise.all(files.map((f) => rm(f.path, { force: true })))) };
}

function bytesRead(pid: number): number {
  try {
    const m = /^rchar:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0; // already exited
  }
}

export interface StreamingUploads {
  /** Resolves once every upload has body bytes on the wire; rejects if one ends first. */
  allStreaming(): Promise<void>;
  /** How many curls are still sending now. */
  inFlight(): number;
  /** Bytes all the curls have sent so far (read from their files; a curl gone keeps its last count). */
  uploadedBytes(): number;
  /** Waits for all of them; how many the server accepted (201). */
  finished(): Promise<{ ok: number; failed: string[] }>;
}

export async function startUploads(server: Server, headers: string, files: UploadFiles['files'], repo: string, rate: string): Promise<StreamingUploads> {
  // Open every upload first so the curls start together.
  const urls = await Promise.all(files.map((f) => openUpload(server, repo, f.digest)));
  const running = urls.map((url, i) => {
    const r = spawnRateLimitedPut(url, headers, files[i]!.path, rate);
    r.child.kill('SIGSTOP');
    return r;
  });
  for (const r of running) r.child.kill('SIGCONT');
  const lastRead = running.map(() => 0);
  const exited = new Set<number>();
  const settled: Array<Promise<CurlResult | Error>> = running.map((r, i) =>
    r.done.then(
      (res) => {
        exited.add(i);
        return res;
      },
      (err: Error) => {
        exited.add(i);
        return err;
      },
    ),
  );
  return {
    async allStreaming() {
      for (;;) {
        const waiting = running.filter((r) => bytesRead(r.child.pid!) < STREAMING_BYTES);
        if (waiting.length === 0) return;
        if (exited.size > 0) {
          const first = await settled[[...exited][0]!]!;
          throw new Error(
            `${server.name}: ${exited.size} uploads ended before all ${running.length} were streaming (${first instanceof Error ? first.message : `status ${first.status}`})`,
          );
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    inFlight: () => running.length - exited.size,
    uploadedBytes() {
      let sum = 0;
      for (let i = 0; i < running.length; i++) {
        lastRead[i] = Math.max(lastRead[i]!, bytesRead(running[i]!.child.pid!));
        sum += lastRead[i]!;
      }
      return sum;
    },
    async finished() {
      const results = await Promise.all(settled);
      const failed = results.map((r) => (r instanceof Error ? r.message : r.status === 201 ? '' : `status ${r.status}`)).filter(Boolean);
      return { ok: results.length - failed.length, failed };
    },
  };
}
