/**
 * The Node-client pull's ceiling: the bench's Node client (pull-client.ts, a process of its own)
 * pulls the same bytes from a bare in-memory Node server (bare-blob-server.ts) beside each of the
 * reference's pulls. No registry can serve that client faster than a server that does no work, so
 * the bare server's rate over the reference's, round by round, bounds what the "Node-client pull"
 * line can read for any server on this machine (#14 asks ≥ 1.2× there). Each round also keeps what
 * the same client spent on the reference's pull just before: the client's CPU per GiB from the two
 * servers, side by side in one round, says whether a server's way of sending changes what the
 * client pays: between moments of one run that cost swings by up to 1.4× (session 34).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pullUrlsApart } from './http-client.js';
import { cpuSeconds } from './proc-stats.js';

const BARE_SERVER = fileURLToPath(new URL('./bare-blob-server.js', import.meta.url));
const MiB = 1024 * 1024;

interface Round {
  reference: number;
  referenceClientCpu: number;
  bare: number;
  bareServerCpu: number;
  bareClientCpu: number;
}

export class PullCeiling {
  private readonly rounds: Round[] = [];

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  /** A bare server whose every body is `bytes` long (the http part's layer size). */
  static async start(bytes: number): Promise<PullCeiling> {
    const child = spawn(process.execPath, [BARE_SERVER, String(bytes)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`bare-blob-server exited (${code}) before listening: ${err.trim().split('\n')[0]}`)));
      child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    });
    return new PullCeiling(child, `http://127.0.0.1:${port}`);
  }

  /** Pulls `count` bodies from the bare server and keeps the pair with the reference's pull just made. */
  async beside(reference: { bytes: number; seconds: number; clientCpu: number }, count: number): Promise<void> {
    const urls = Array.from({ length: count }, (_, i) => `${this.url}/blob/${i}`);
    const cpu0 = cpuSeconds(this.child.pid!);
    const bare = await pullUrlsApart(urls, {});
    const gib = bare.bytes / (1024 * MiB);
    this.rounds.push({
      reference: reference.bytes / MiB / reference.seconds,
      referenceClientCpu: reference.clientCpu / (reference.bytes / (1024 * MiB)),
      bare: bare.bytes / MiB / bare.seconds,
      bareServerCpu: (cpuSeconds(this.child.pid!) - cpu0) / gib,
      bareClientCpu: bare.clientCpu / gib,
    });
  }

  stop(): void {
    this.child.kill();
  }

  /** The rounds as results.json keeps them. */
  figures(): Round[] {
    return this.rounds;
  }

  print(): void {
    if (this.rounds.length === 0) return;
    const ratios = this.rounds.map((r) => r.bare / r.reference);
    const sorted = [...ratios].sort((a, b) => a - b);
    const mid = sorted.length / 2;
    const median = sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    console.log('\nNode-client pull ceiling: a bare in-memory Node server beside each reference pull');
    for (const [i, r] of this.rounds.entries())
      console.log(
        `  round ${i + 1}: bare ${r.bare.toFixed(0)} MB/s (server ${r.bareServerCpu.toFixed(2)}, client ${r.bareClientCpu.toFixed(2)} CPU-s/GiB), reference ${r.reference.toFixed(0)} MB/s (client ${r.referenceClientCpu.toFixed(2)}): ${ratios[i]!.toFixed(2)}`,
      );
    console.log(`  median bare / reference: ${median.toFixed(2)} (no server can read faster than the bare one through this client)`);
  }
}
