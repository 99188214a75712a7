/**
 * The bench's skopeo part: `skopeo copy` of a fresh image (three gzip layers) into each server,
 * then pulled back out into a fresh OCI layout `pulls` times. Beside each rate: skopeo's own
 * CPU-seconds per GiB (bash's `times`, as the curl part reads curl's) and the server's.
 *
 * Why several pulls per round, folded to the median (report.ts): one pull moves 192 MiB in
 * ~0.6 s, and skopeo spends 3.5–5.3 CPU-s per GiB on it (its hashing, its writes, Go's runtime)
 * against 0.6–1.0 for either server, so on two cores the line follows skopeo and the machine.
 * Sessions 31–35's line, the mean of two pulls per server, read Berth against a build of the same
 * download path 0.76–1.07 in nine full runs. A pull needs no fresh image (a push does: a registry
 * holding the layers skips them), so the pull takes more samples. Each is printed to the log, the
 * first after a server's start too (Berth's starts a byte thread: ~0.1 CPU-s once).
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { childCpu } from './curl.js';
import { cpuSeconds } from './proc-stats.js';
import type { Server } from './servers.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

export interface SkopeoParams {
  layers: number;
  layerBytes: number;
  /** Pulls per server and round. */
  pulls: number;
}

type Record = (server: Server, name: string, value: number) => void;

/** skopeo under bash, so the run ends with bash's `times`: skopeo's user + system seconds. */
async function skopeo(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const script = 'skopeo "$@"; s=$?; times >&2; exit $s';
  const { stderr } = await run('bash', ['-c', script, 'skopeo', ...args], { env, maxBuffer: 1 << 20 });
  return childCpu(stderr);
}

/** One round of the part on one server: a push of `layoutDir`'s image, then `p.pulls` pulls of it. */
export async function skopeoRound(server: Server, layoutDir: string, round: number, home: string, p: SkopeoParams, record: Record): Promise<void> {
  const env = { ...process.env, HOME: home, REGISTRY_AUTH_FILE: join(home, 'auth.json') };
  const policy = ['--policy', join(home, 'policy.json')];
  const ref = `docker://${server.host}/bench/skopeo${round}:v1`;
  const mib = (p.layers * p.layerBytes) / MiB;
  const gib = mib / 1024;

  const destCreds = server.creds ? ['--dest-creds', server.creds] : [];
  let cpu = cpuSeconds(server.pid);
  let t = performance.now();
  let own = await skopeo([...policy, 'copy', '-q', '--dest-tls-verify=false', ...destCreds, `oci:${layoutDir}:v1`, ref], env);
  record(server, 'push MB/s (skopeo)', mib / ((performance.now() - t) / 1000));
  record(server, 'skopeo push: server CPU-s per GiB', (cpuSeconds(server.pid) - cpu) / gib);
  record(server, "skopeo push: skopeo's CPU-s per GiB", own / gib);

  const srcCreds = server.creds ? ['--src-creds', server.creds] : [];
  for (let n = 0; n < p.pulls; n++) {
    const out = join(home, `out-${server.name}-${round}-${n}`);
    cpu = cpuSeconds(server.pid);
    t = performance.now();
    own = await skopeo([...policy, 'copy', '-q', '--src-tls-verify=false', ...srcCreds, ref, `oci:${out}:v1`], env);
    const rate = mib / ((performance.now() - t) / 1000);
    const serverCpu = (cpuSeconds(server.pid) - cpu) / gib;
    record(server, 'pull MB/s (skopeo)', rate);
    record(server, 'skopeo pull: server CPU-s per GiB', serverCpu);
    record(server, "skopeo pull: skopeo's CPU-s per GiB", own / gib);
    console.error(`  skopeo pull ${n + 1}/${p.pulls}: ${rate.toFixed(0)} MB/s, server ${serverCpu.toFixed(2)}, skopeo ${(own / gib).toFixed(2)} CPU-s/GiB`);
    await rm(out, { recursive: true, force: true });
  }
}
