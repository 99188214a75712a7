/**
 * How soon the web console is usable on loopback (issue #20's bar: first page interactive under
 * 1 s). Debian's Chromium (playwright-core) loads /console/ against a local Berth holding
 * REPOSITORIES repositories, and the time is taken from the navigation's start to the moment the
 * page answers a person: the sign-in button is enabled (signed out), or the repository list is
 * shown with its links (signed in: the session call, DescribeRepositories and the render).
 * Cold: a fresh browser context each time (no cache, no cookie but the session's); warm: the same
 * context again (the hashed assets cached). Median and p90 of ROUNDS loads each, beside the
 * floor of the same browser on the same machine (a page with no script, /healthz), for a ratio
 * that means something when the machine is busy.
 * `npm run bench:console`; BENCH_QUICK=1 for a smoke run.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateRepositoryCommand, ECRClient } from '@aws-sdk/client-ecr';
import { type Browser, type BrowserContext, chromium } from 'playwright-core';
import { startBerthServer } from './servers.js';

const quick = process.env.BENCH_QUICK === '1';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (quick ? 3 : 15));
const REPOSITORIES = quick ? 20 : 100;
const CHROMIUM = process.env.BERTH_TEST_CHROMIUM ?? '/usr/bin/chromium';
const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return `median ${at(0.5).toFixed(0)} ms, p90 ${at(0.9).toFixed(0)} ms, max ${s[s.length - 1]!.toFixed(0)} ms (${s.length} loads)`;
}

/**
 * The renderer's main-thread task time of each load (Chromium's TaskDuration): how much of the wall
 * time the page itself was busy (parsing, running, laying out) rather than waiting on the network
 * or the server. It is wall time inside tasks, so a busy machine stretches it too.
 */
const cpu: Record<string, number[]> = {};

/**
 * Milliseconds from navigation start until `ready` resolves, measured by the page's own clock;
 * the renderer's main-thread task time for the same load goes to cpu[label].
 */
async function load(context: BrowserContext, url: string, ready: string, label = ''): Promise<number> {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  try {
    await cdp.send('Performance.enable');
    await page.goto(url, { waitUntil: 'commit' });
    await page.locator(ready).first().waitFor({ state: 'visible' });
    const wall = await page.evaluate(() => performance.now());
    const { metrics } = await cdp.send('Performance.getMetrics');
    const task = metrics.find((m) => m.name === 'TaskDuration')?.value;
    if (label && task !== undefined) (cpu[label] ??= []).push(task * 1000);
    return wall;
  } finally {
    await cdp.detach();
    await page.close();
  }
}

async function signedInContext(browser: Browser, url: string, keys: { accessKeyId: string; secretAccessKey: string }): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  await page.goto(`${url}/console/`);
  await page.getByLabel('Access key ID').fill(keys.accessKeyId);
  await page.getByLabel('Secret access key').fill(keys.secretAccessKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Repositories', level: 1 }).waitFor();
  await page.close();
  return context;
}

async function main(): Promise<void> {
  execFileSync(process.execPath, [join(root, 'scripts', 'build-console.mjs')], { stdio: 'inherit' });
  const work = await mkdtemp(join(tmpdir(), 'berth-bench-console-'));
  const server = await startBerthServer(work, { name: 'berth' });
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  try {
    const ecr = new ECRClient({ endpoint: server.url, region: 'us-east-1', credentials: server.admin! });
    for (let i = 0; i < REPOSITORIES; i++) await ecr.send(new CreateRepositoryCommand({ repositoryName: `bench/app-${String(i).padStart(4, '0')}` }));

    const signInReady = 'button[type=submit]:has-text("Sign in"):not([disabled])';
    const listReady = 'a:has-text("bench/app-0000")';
    // The machine's floor, for a ratio that survives a busy machine: a page with no script.
    const floor: number[] = [];
    const signedOutCold: number[] = [];
    const signedInCold: number[] = [];
    const signedInWarm: number[] = [];
    const warm = await signedInContext(browser, server.url, server.admin!);
    for (let r = 0; r < ROUNDS; r++) {
      const bare = await browser.newContext();
      floor.push(await load(bare, `${server.url}/healthz`, 'body'));
      await bare.close();
      const fresh = await browser.newContext();
      signedOutCold.push(await load(fresh, `${server.url}/console/`, signInReady, 'sign-in page, cold cache'));
      await fresh.close();
      const session = await signedInContext(browser, server.url, server.admin!);
      // A new context with the session cookie only: nothing cached.
      const cookies = await session.cookies();
      await session.close();
      const cold = await browser.newContext();
      await cold.addCookies(cookies);
      signedInCold.push(await load(cold, `${server.url}/console/repositories`, listReady, 'repository list, cold cache'));
      await cold.close();
      signedInWarm.push(await load(warm, `${server.url}/console/repositories`, listReady, 'repository list, warm cache'));
    }
    await warm.close();
    console.log(`console first page interactive on loopback, Chromium ${browser.version()}, ${REPOSITORIES} repositories:`);
    console.log(`  sign-in page, cold cache:          ${stats(signedOutCold)}`);
    console.log(`  repository list, cold cache:       ${stats(signedInCold)}`);
    console.log(`  repository list, warm cache:       ${stats(signedInWarm)}`);
    console.log(`  floor (/healthz, no script):        ${stats(floor)}`);
    console.log('  of which the renderer main thread was busy (Chromium TaskDuration):');
    for (const [label, ms] of Object.entries(cpu)) console.log(`    ${`${label}:`.padEnd(34)}${stats(ms)}`);
    console.log(`  bar (issue #20): under 1000 ms; load average now ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores`);
  } finally {
    await browser.close();
    await server.halt();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
