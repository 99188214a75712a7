/**
 * The machine's single-core limits, for context beside the data-path figures: SHA-256 and
 * AES-256-GCM (seal and open) over a buffer in 1 MiB updates, one thread. Run as its own process
 * (`machineLimits()`), before the servers start, so it neither disturbs them nor is disturbed.
 */
import { execFile } from 'node:child_process';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const MiB = 1024 * 1024;

export interface Limits {
  'SHA-256 MB/s (one core)': number;
  'AES-256-GCM seal MB/s (one core)': number;
  'AES-256-GCM open MB/s (one core)': number;
}

function rate(totalMiB: number, work: () => void): number {
  work(); // warm-up pass, not counted
  const t = performance.now();
  work();
  return totalMiB / ((performance.now() - t) / 1000);
}

function measure(totalMiB: number): Limits {
  const chunk = randomBytes(MiB);
  const key = randomBytes(32);
  const iv = randomBytes(12);
  const sha = rate(totalMiB, () => {
    const h = createHash('sha256');
    for (let i = 0; i < totalMiB; i++) h.update(chunk);
    h.digest();
  });
  const seal = rate(totalMiB, () => {
    const c = createCipheriv('aes-256-gcm', key, iv);
    for (let i = 0; i < totalMiB; i++) c.update(chunk);
    c.final();
  });
  const open = rate(totalMiB, () => {
    // Opening is the same GHASH and CTR work; the tag check at the end (skipped: the input is
    // not real ciphertext) is a few bytes.
    const d = createDecipheriv('aes-256-gcm', key, iv);
    for (let i = 0; i < totalMiB; i++) d.update(chunk);
  });
  return { 'SHA-256 MB/s (one core)': sha, 'AES-256-GCM seal MB/s (one core)': seal, 'AES-256-GCM open MB/s (one core)': open };
}

export async function machineLimits(totalMiB: number): Promise<Limits> {
  const { stdout } = await promisify(execFile)(process.execPath, [fileURLToPath(import.meta.url), String(totalMiB)]);
  return JSON.parse(stdout) as Limits;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(JSON.stringify(measure(Number(process.argv[2] ?? 1024))));
}
