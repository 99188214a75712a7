/**
 * A real S3 server for tests: the one scripts/s3-test-server.sh starts (Ceph RGW on loopback), or
 * the one BERTH_S3_TEST_ENDPOINT and friends name (to point the tests at MinIO or AWS).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface S3TestServer {
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Key ids the server's KMS accepts for SSE-KMS; empty when the server has none configured. */
  kmsKeys: string[];
  /** Stops the server if this process started it; a no-op otherwise. */
  stop(): Promise<void>;
}

/** Starts (or finds) the server; `unavailable` says why there is none on this machine. */
export async function startS3TestServer(): Promise<S3TestServer | { unavailable: string }> {
  const fromEnv = readEnv(process.env);
  if (fromEnv) return { ...fromEnv, stop: async () => undefined };

  const script = join(repoRoot(), 'scripts', 's3-test-server.sh');
  // A server already running belongs to whoever started it; leave it running.
  const existing = await run('bash', [script, 'env']).then(
    (r) => readEnv(parseEnvLines(r.stdout)),
    () => undefined,
  );
  if (existing) return { ...existing, stop: async () => undefined };
  try {
    // Installing the packages on a fresh machine takes most of this; a cold start ~15 s.
    const { stdout } = await run('bash', [script, 'start'], { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 });
    const started = readEnv(parseEnvLines(stdout));
    if (!started) return { unavailable: `scripts/s3-test-server.sh printed no endpoint:\n${stdout}` };
    return { ...started, stop: async () => void (await run('bash', [script, 'stop'], { timeout: 60_000 })) };
  } catch (e) {
    const err = e as { stderr?: string; message?: string };
    return { unavailable: `scripts/s3-test-server.sh start failed: ${(err.stderr || err.message || String(e)).trim().slice(-2000)}` };
  }
}

function readEnv(env: Record<string, string | undefined>): Omit<S3TestServer, 'stop'> | undefined {
  const endpoint = env.BERTH_S3_TEST_ENDPOINT;
  if (!endpoint) return undefined;
  return {
    endpoint,
    region: env.BERTH_S3_TEST_REGION ?? 'us-east-1',
    bucket: env.BERTH_S3_TEST_BUCKET ?? 'berth-test',
    accessKeyId: env.BERTH_S3_TEST_ACCESS_KEY_ID ?? '',
    secretAccessKey: env.BERTH_S3_TEST_SECRET_ACCESS_KEY ?? '',
    kmsKeys: (env.BERTH_S3_TEST_KMS_KEYS ?? '').split(',').filter((k) => k !== ''),
  };
}

function parseEnvLines(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** The directory holding package.json, found from here whether run from src/ or dist/src/. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'scripts'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}
