/**
 * `berth usage` over a known history (issue #15 point 4): the app runs in this process on an
 * injectable clock, so pushes, pulls, a repository delete and the hourly storage samples happen
 * on chosen days of November 2026 without waiting; skopeo pushes and raw HTTP pulls go over real
 * HTTP; then the `berth usage` command reads the data directory and must print the GB-months and
 * transfer those days add up to.
 */
import { DeleteRepositoryCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { createApp, type App } from '../../src/app/app.js';
import { loadConfig } from '../../src/config/load.js';
import { tempDir } from './helpers/berth-process.js';
import { adminCredentials } from './helpers/ecr-client.js';
import { berthCli } from './helpers/gc.js';
import { forgetLogin, rememberLogin } from './helpers/logins.js';
import { blobPath, buildImageLayout, type BuiltImage } from './helpers/oci-layout.js';
import { getBlob, getManifest } from './helpers/registry-http.js';
import { createSkopeo, type Skopeo } from './helpers/skopeo.js';
import { waitFor } from './helpers/wait-for.js';

const GIB = 2 ** 30;
const REGISTRY = '000000000000:us-east-1';

interface Figures {
  gbMonths: number;
  bytesIn: number;
  bytesOut: number;
  pulls: number;
}
interface Report {
  period: {
    from: string;
    to: string;
    sampledThrough?: string;
    repositories: Array<Figures & { accountId: string; region: string; repository: string }>;
    registries: Array<Figures & { accountId: string; region: string; linkedGbMonths: number }>;
  };
}

function assertClose(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= Math.abs(expected) * 1e-9 + 1e-15, `${what}: ${actual} ≠ ${expected}`);
}

describe('berth usage over a known history', () => {
  const clock = { t: 0, now: () => new Date(clock.t) };
  const setDay = (day: number) => (clock.t = Date.UTC(2026, 10, day, 12));
  let app: App;
  let closed = false;
  let dataDir: string;
  let work: string;
  let url: string;
  let host: string;
  let skopeo: Skopeo;
  let a: BuiltImage;
  let b: BuiltImage;
  let sizeA: number;
  let sizeB: number;

  /** An ECR client signing at the clock's time, as a client whose clock agrees with the server's. */
  const ecr = () =>
    new ECRClient({ endpoint: url, region: 'us-east-1', credentials: adminCredentials({ dataDir }), maxAttempts: 1, systemClockOffset: clock.t - Date.now() });
  /** Logs in at the clock's time (a login token lasts 12 hours of it). */
  async function login(): Promise<void> {
    const token = (await ecr().send(new GetAuthorizationTokenCommand({}))).authorizationData?.[0]?.authorizationToken;
    assert.ok(token);
    rememberLogin(url, `Basic ${token}`);
  }
  // A tick already running (the one a start takes on a day without a sample) is waited out.
  const sample = () => waitFor('a storage sample', () => app.tasks.find((t) => t.name === 'usage-sample')!.tick());
  const blobBytes = async (dir: string, img: BuiltImage) => img.layers.reduce((n, l) => n + l.size, 0) + (await stat(blobPath(dir, img.configDigest))).size;

  before(async () => {
    work = await tempDir('berth-usage-work-');
    dataDir = await tempDir('berth-usage-data-');
    a = await buildImageLayout(join(work, 'a'), { layers: 2, layerBytes: [200 * 1024, 3000], tag: 'a' });
    b = await buildImageLayout(join(work, 'b'), { layers: 1, layerBytes: 50 * 1024, tag: 'b' });
    sizeA = await blobBytes(join(work, 'a'), a);
    sizeB = await blobBytes(join(work, 'b'), b);
    setDay(1);
    const env = {
      BERTH_DATA_DIR: dataDir,
      BERTH_HOST: '127.0.0.1',
      BERTH_PORT: '0',
      BERTH_GC_INTERVAL_SECONDS: '0',
      BERTH_LIFECYCLE_INTERVAL_SECONDS: '0',
    };
    app = await createApp(loadConfig({ env }), { clock, log: pino({ level: 'silent' }) });
    const port = await app.listen();
    url = `http://127.0.0.1:${port}`;
    host = `127.0.0.1:${port}`;
    skopeo = await createSkopeo();
  });

  after(async () => {
    forgetLogin(url);
    if (!closed) await app?.close();
    await skopeo?.cleanup();
    for (const d of [work, dataDir]) if (d) await rm(d, { recursive: true, force: true });
  });

  it('prints the GB-months and transfer the history adds up to, per repository and account', async () => {
    // 1 November: push a, sample.
    await login();
    await skopeo.copy(`oci:${join(work, 'a')}:a`, `docker://${host}/usage/a:v1`, ['--preserve-digests']);
    await sample();
    // 11 November: push b; pull a (a HEAD is no pull and sends no body); sample.
    setDay(11);
    await login();
    await skopeo.copy(`oci:${join(work, 'b')}:b`, `docker://${host}/usage/b:v1`, ['--preserve-digests']);
    assert.equal((await getManifest(url, 'usage/a', 'v1', 'HEAD')).status, 200);
    assert.equal((await getManifest(url, 'usage/a', 'v1')).status, 200);
    for (const digest of [a.configDigest, ...a.layers.map((l) => l.digest)]) assert.equal((await getBlob(url, 'usage/a', digest)).status, 200);
    await sample();
    // 21 November: a is deleted, then sampled (once at zero); 26 November: the last sample.
    setDay(21);
    await ecr().send(new DeleteRepositoryCommand({ repositoryName: 'usage/a', force: true }));
    await sample();
    setDay(26);
    await sample();
    // The transfer is written when the server closes (and every few seconds while it runs).
    await app.close();
    closed = true;

    const usage = async (...args: string[]) => JSON.parse((await berthCli(['usage', '--json', '--data-dir', dataDir, ...args])).stdout) as Report;
    const nov = (await usage('--from', '2026-11-01', '--to', '2026-12-01')).period;
    assert.equal(nov.sampledThrough, '2026-11-26');
    const repoA = nov.repositories.find((r) => r.repository === 'usage/a')!;
    const repoB = nov.repositories.find((r) => r.repository === 'usage/b')!;
    // Storage is counted through the last sampled day, 26 November; a month of 30 days.
    assertClose(repoA.gbMonths, (20 * sizeA) / GIB / 30, 'usage/a: 1–20 November');
    assertClose(repoB.gbMonths, (16 * sizeB) / GIB / 30, 'usage/b: 11–26 November');
    assert.deepEqual([repoA.bytesIn, repoA.bytesOut, repoA.pulls], [sizeA + a.manifestSize, sizeA + a.manifestSize, 1]);
    assert.deepEqual([repoB.bytesIn, repoB.bytesOut, repoB.pulls], [sizeB + b.manifestSize, 0, 0]);
    const account = nov.registries.find((g) => `${g.accountId}:${g.region}` === REGISTRY)!;
    assertClose(account.gbMonths, (20 * sizeA + 16 * sizeB) / GIB / 30, 'account, deduplicated');
    assertClose(account.linkedGbMonths, (20 * sizeA + 16 * sizeB) / GIB / 30, 'account, linked');
    assert.deepEqual([account.bytesIn, account.bytesOut, account.pulls], [repoA.bytesIn + repoB.bytesIn, repoA.bytesOut, 1]);

    // 15–19 November: no sample in the period; the 11 November sample is carried in; no transfer.
    const mid = (await usage('--from', '2026-11-15', '--to', '2026-11-20')).period;
    const midA = mid.repositories.find((r) => r.repository === 'usage/a')!;
    assertClose(midA.gbMonths, (5 * sizeA) / GIB / 30, 'usage/a carried into 15–19 November');
    assert.deepEqual([midA.bytesIn, midA.bytesOut, midA.pulls], [0, 0, 0]);

    // The text report names the same figures.
    const { stdout } = await berthCli(['usage', '--data-dir', dataDir, '--from', '2026-11-01', '--to', '2026-12-01']);
    assert.match(stdout, /usage from 2026-11-01 to 2026-12-01 \(not included\), storage sampled through 2026-11-26/);
    assert.match(
      stdout,
      new RegExp(`^000000000000\\s+us-east-1\\s+usage/a\\s+${repoA.gbMonths.toFixed(6)}\\s+${repoA.bytesOut}\\s+${repoA.bytesIn}\\s+1$`, 'm'),
    );
  });

  it('refuses a malformed or empty period with a clear error, changing nothing', async () => {
    for (const [args, message] of [
      [['--from', '2026-11-31'], /--from must be a date YYYY-MM-DD/],
      [['--from', '2026-11-10', '--to', '2026-11-10'], /--to must be after --from/],
    ] as const) {
      await assert.rejects(berthCli(['usage', '--data-dir', dataDir, ...args]), message);
    }
  });
});
