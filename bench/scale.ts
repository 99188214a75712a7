/**
 * Listings at scale: one repository grown to many tags (each its own manifest), then many
 * repositories, seeded through the API (a manifest PUT per tag, concurrent, on keep-alive
 * connections; a repository is a blob mount plus a manifest PUT). At each size each listing is
 * walked until it has given at least 1,000 pages (WalkPlan), timing each page (p50 / p99 / max),
 * with the server's resident memory before and at its peak during the walks. The /v2 listings
 * run on both servers; the ECR API listings on Berth only (the reference has none). A page's
 * client time runs from the request sent (already signed) to the last byte of the answer, parsing
 * excluded. Berth's servers here answer with `Server-Timing` (BERTH_SERVER_TIMING=1), so every
 * page also has the server's own time, from its arrival to its headers (the page is built whole
 * before them): a slow page whose server time is small waited on the machine or the client.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { majorGc, minorGc } from '../src/core/minor-gc.js';
import { duration } from '../src/http/server-timing.js';
import { pushBlob } from './http-client.js';
import { hrMs, pageWaits, type Stall, StallSampler } from './loop-stalls.js';
import { type PageStats, type PageTime, p99Rank, pageStats, slowestLine, tailLine } from './page-stats.js';
import { rssBytes, watchPeakRss } from './proc-stats.js';
import { seedBerth, seedReference, type SeedImage } from './scale-seed-direct.js';
import { probeRead } from './server-probe.js';
import type { Server } from './servers.js';

const MiB = 1024 * 1024;
const OCI = 'application/vnd.oci.image.manifest.v1+json';
export const TAG_REPO = 'scale/tags';
const CONCURRENCY = 16;
export const PAGE = 1000;

/**
 * How many times a listing is read at each size. The figure is a p99 of page times, and the p99 of
 * fewer than 100 pages is their slowest (at 10,000 tags, 1,000 a page, two walks were 20 pages: one
 * page the machine held up failed the line, session 29), and of 100 pages the second slowest (two
 * pages the machine held up made session 34's 60.8 ms ListImages p99). So a listing is walked at
 * least `passes` times and then until it has given `pages` pages (the full run: 1,000, so the p99
 * is the 11th slowest; at 1,000 repositories, two pages a walk, that is 500 walks); the slowest
 * stays beside it, and each line says how many pages its p99 is read from. Past
 * `passes`, no walk starts after `seconds`: the reference answers its tag list whole, whatever
 * `n` asks (100,000 tags: one page of seconds), and takes ~0.5 s a catalog page at 10,000
 * repositories, so 100 of its pages could take minutes; its line then says how few it read.
 */
export interface WalkPlan {
  passes: number;
  pages: number;
  seconds: number;
}

/** Whether a listing read `passes` times, `pages` pages in all over `seconds`, has been read enough. */
export const walkedEnough = (plan: WalkPlan, passes: number, pages: number, seconds: number): boolean =>
  passes >= plan.passes && (pages >= plan.pages || seconds >= plan.seconds);

export type Figure = (server: Server, name: string, value: number) => void;

const pad = (i: number) => String(i).padStart(6, '0');

function manifest(config: string, i: number): string {
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 520 },
    layers: [],
    annotations: { 'bench.index': String(i) },
  });
}

async function ok(res: Response, what: string, expect: number): Promise<void> {
  await res.arrayBuffer();
  if (res.status !== expect) throw new Error(`${what} answered ${res.status}`);
}

/** Runs `work(i)` for i in [from, to) with a fixed number of requests in flight. */
async function pool(from: number, to: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = from;
  const lane = async () => {
    while (next < to) await work(next++);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
}

/** 'api': a manifest PUT per image (the default); 'direct': see scale-seed-direct.ts. */
export type SeedMode = 'api' | 'direct';

export class ScaleSeeder {
  private config = '';
  constructor(
    readonly server: Server,
    readonly mode: SeedMode,
  ) {}

  /** The first image goes through the API either way: it creates what a real push creates. */
  private async seed(from: number, to: number, image: (i: number) => SeedImage, viaApi: (i: number) => Promise<void>): Promise<void> {
    if (this.mode === 'api') return pool(from, to, viaApi);
    if (from === 0 && to > 0) await viaApi(from++);
    const images = Array.from({ length: to - from }, (_, j) => image(from + j));
    if (this.server.admin) {
      seedBerth(this.server, this.config, images);
      // seedBerth held this loop for as long as it wrote (over a minute for 90,000 tags on a loaded
      // machine): a kept-alive connection the server closed meanwhile (idleTimeoutSeconds, 65) is
      // known closed only once the loop has read its end, and a request sent first on it failed
      // ("other side closed", s30). One turn of the loop reads it.
      await new Promise((r) => setImmediate(r));
    } else await seedReference(this.server, this.config, images);
  }

  private async putManifest(repo: string, tag: string, i: number): Promise<void> {
    const res = await fetch(`${this.server.url}/v2/${repo}/manifests/${tag}`, {
      method: 'PUT',
      headers: { ...this.server.headers, 'Content-Type': OCI },
      body: manifest(this.config, i),
    });
    await ok(res, `${this.server.name}: PUT manifest ${repo}:${tag}`, 201);
  }

  /** Grows the tag repository to `to` tags; returns manifests per second. */
  async tags(from: number, to: number): Promise<number> {
    if (!this.config) this.config = await pushBlob(this.server, TAG_REPO, 512, 424242);
    const t = performance.now();
    await this.seed(
      from,
      to,
      (i) => ({ repo: TAG_REPO, tag: `t${pad(i)}`, body: manifest(this.config, i) }),
      (i) => this.putManifest(TAG_REPO, `t${pad(i)}`, i),
    );
    return (to - from) / ((performance.now() - t) / 1000);
  }

  /** Grows the registry to `to` seeded repositories; returns repositories per second. */
  async repositories(from: number, to: number): Promise<number> {
    if (!this.config) this.config = await pushBlob(this.server, TAG_REPO, 512, 424242);
    const t = performance.now();
    await this.seed(
      from,
      to,
      (i) => ({ repo: `scale/r${pad(i)}`, tag: 'v1', body: manifest(this.config, i) }),
      async (i) => {
        const repo = `scale/r${pad(i)}`;
        const mount = await fetch(`${this.server.url}/v2/${repo}/blobs/uploads/?mount=${this.config}&from=${TAG_REPO}`, {
          method: 'POST',
          headers: this.server.headers,
        });
        await ok(mount, `${this.server.name}: mount into ${repo}`, 201);
        await this.putManifest(repo, 'v1', i);
      },
    );
    return (to - from) / ((performance.now() - t) / 1000);
  }
}

export interface Page extends PageTime {
  items: number;
  next?: string;
  /** The request sent and the answer's last byte read, on the monotonic clock (loop-stalls.ts). */
  sent: number;
  done: number;
}

/**
 * The bench's own collections, taken between pages rather than inside them: a page's time is
 * the server's, and a pause of this process while it reads an answer counted in it (the
 * seed's garbage made the first page after seeding 15–50 ms where the server took 2–3 ms,
 * notes/2026-12-06-s24-s24-list.md). A full one before each walk, a scavenge after each page.
 * Not a full one after each page: it took every pause out of the pages but made the pages after
 * it slower (tags/list walk medians 6.8 against 4.4 ms; even after a 5–10 ms rest), while a
 * scavenge changes nothing measurable (3.2 against 3.4). Until session 34 the bench's own heap
 * still reached V8's limit once a 100-page walk, around its 60th page: an incremental-marking
 * step and its finish (6–33 ms) fell inside a page in nearly every 100,000-tag DescribeImages
 * walk: 6 of the 10 slowest DescribeImages pages at 100,000 tags in sessions 31–33's full runs
 * were walk 1's pages 61–68. So every FULL_EVERY pages the collection between pages is a full one
 * (before the heap's own trigger, which came 45–78 pages after a full collection): the page after
 * it reads a few ms slower, as above (medians 14.1 and 15.8 against 13.1 and 11.1 ms over the 12
 * such pages of two runs of 4 walks, load 6–7), where the pauses it replaces took 6–33 ms of 3–6
 * pages in each run of the same shape (none in the two runs with it).
 */
const FULL_EVERY = 25;
let pagesSinceFull = 0;
export const benchGc = {
  beforeWalk: (): void => {
    majorGc();
    pagesSinceFull = 0;
  },
  afterPage: async (): Promise<void> => {
    if (++pagesSinceFull < FULL_EVERY) return minorGc();
    majorGc();
    pagesSinceFull = 0;
  },
};

/** Reads a whole listing as often as `plan` says; `page(token)` returns the items, the next token and its times. */
async function walk(server: Server, plan: WalkPlan, page: (token?: string) => Promise<Page>): Promise<PageStats> {
  benchGc.beforeWalk();
  const rssBefore = rssBytes(server.pid);
  const stop = watchPeakRss(server.pid);
  const walks: PageTime[][] = [];
  let pages = 0;
  let items = 0;
  const started = performance.now();
  // The bench's own pauses, placed in the pages they fell in once the walks are done.
  const pauses: Array<{ at: number; ms: number }> = [];
  const windows: Array<{ time: PageTime; from: number; to: number; sent: number; done: number }> = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) pauses.push({ at: e.startTime, ms: e.duration });
  });
  observer.observe({ entryTypes: ['gc'] });
  // The bench's own loop: a page it read late is the client's, not the server's.
  const benchStalls: Stall[] = [];
  const sampler = new StallSampler((st) => benchStalls.push(st));
  if (server.probe) sampler.start();
  while (!walkedEnough(plan, walks.length, pages, (performance.now() - started) / 1000)) {
    const times: PageTime[] = [];
    let token: string | undefined;
    items = 0;
    do {
      const from = performance.now();
      const r = await page(token);
      const to = performance.now();
      await benchGc.afterPage();
      const { items: _, next: __, sent, done, ...time } = r;
      times.push(time);
      windows.push({ time, from, to, sent, done });
      items += r.items;
      token = r.next;
    } while (token !== undefined);
    walks.push(times);
    pages += times.length;
  }
  // The observer hears of the last pauses on a later turn.
  await new Promise((r) => setImmediate(r));
  observer.disconnect();
  sampler.stop();
  for (const w of windows) w.time.benchGcMs = pauses.filter((p) => p.at >= w.from && p.at <= w.to).reduce((a, p) => a + p.ms, 0);
  const logs = server.probe && (await probeRead(server.probe, windows));
  if (logs)
    for (const [i, w] of windows.entries()) {
      const request = logs.requests[i];
      if (request) w.time.waits = pageWaits(w, request, logs, { stalls: benchStalls });
    }
  const peak = stop();
  return { ...pageStats(walks), items, rssBeforeMB: rssBefore / MiB, rssPeakMB: peak / MiB };
}

/** What a page's Server-Timing says (nothing from a server that sends none). */
function serverTimes(res: Response): Pick<PageTime, 'serverMs' | 'serverCpuMs'> {
  const value = res.headers.get('server-timing');
  const serverMs = duration(value, 'total');
  const serverCpuMs = duration(value, 'cpu');
  return { ...(serverMs !== undefined && { serverMs }), ...(serverCpuMs !== undefined && { serverCpuMs }) };
}

/** A /v2 listing followed through its Link headers. */
export function v2Pages(server: Server, first: string, field: 'tags' | 'repositories') {
  return async (token?: string): Promise<Page> => {
    const sent = hrMs();
    const res = await fetch(new URL(token ?? first, server.url), { headers: server.headers });
    const text = await res.text();
    const done = hrMs();
    const ms = done - sent;
    if (res.status !== 200) throw new Error(`${server.name}: GET ${token ?? first} answered ${res.status}`);
    const body = JSON.parse(text) as Record<string, string[] | null>;
    const link = /<([^>]+)>;\s*rel="?next"?/.exec(res.headers.get('link') ?? '');
    return { items: body[field]?.length ?? 0, ms, sent, done, ...(link && { next: link[1]! }), ...serverTimes(res) };
  };
}

const LIST_FIELD = { ListImages: 'imageIds', DescribeImages: 'imageDetails', DescribeRepositories: 'repositories' } as const;

/** An ECR JSON API listing, SigV4-signed here with the admin's key, followed through nextToken. */
export function ecrPages(server: Server, call: keyof typeof LIST_FIELD) {
  const url = new URL(server.url);
  const signer = new SignatureV4({ service: 'ecr', region: 'us-east-1', credentials: server.admin!, sha256: Sha256 });
  return async (nextToken?: string): Promise<Page> => {
    const body = JSON.stringify({ ...(call !== 'DescribeRepositories' && { repositoryName: TAG_REPO }), maxResults: PAGE, ...(nextToken && { nextToken }) });
    const signed = await signer.sign(
      new HttpRequest({
        method: 'POST',
        protocol: url.protocol,
        hostname: url.hostname,
        port: Number(url.port),
        path: '/',
        headers: { host: url.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `AmazonEC2ContainerRegistry_V20150921.${call}` },
        body,
      }),
    );
    const sent = hrMs();
    const res = await fetch(server.url, { method: 'POST', headers: signed.headers as Record<string, string>, body });
    const text = await res.text();
    const done = hrMs();
    const ms = done - sent;
    if (res.status !== 200) throw new Error(`${server.name}: ${call} answered ${res.status}: ${text.slice(0, 200)}`);
    const out = JSON.parse(text) as Record<string, unknown[] | string | undefined>;
    const items = out[LIST_FIELD[call]];
    return {
      items: Array.isArray(items) ? items.length : 0,
      ms,
      sent,
      done,
      ...(typeof out.nextToken === 'string' && { next: out.nextToken }),
      ...serverTimes(res),
    };
  };
}

function recordStats(server: Server, name: string, s: PageStats, figure: Figure): void {
  figure(server, `${name}: p50 ms per page`, s.p50Ms);
  figure(server, `${name}: p99 ms per page`, s.p99Ms);
  figure(server, `${name}: slowest page ms`, s.maxMs);
  if (s.server) figure(server, `${name}: server's own p99 ms (Server-Timing)`, s.server.p99Ms);
  figure(server, `${name}: peak RSS MB`, s.rssPeakMB);
  figure(server, `${name}: pages timed`, s.sampled);
  if (s.tail) console.error(`  ${server.name}: ${name}: ${tailLine(s.tail)}`);
  console.error(
    `  ${server.name}: ${name}: ${s.passes} walks of ${s.pages} pages, ${s.items} items, p50 ${s.p50Ms.toFixed(1)} ms, p99 ${s.p99Ms.toFixed(1)} ms (${p99Rank(s.sampled)}), max ${s.maxMs.toFixed(1)} ms (walk ${s.slowest.pass}, page ${s.slowest.page}: ${slowestLine(s)}), RSS ${s.rssBeforeMB.toFixed(0)} → peak ${s.rssPeakMB.toFixed(0)} MB`,
  );
}

/** The tag-repository listings at its current size (`label`, e.g. "100k tags"). */
export async function measureTagListings(server: Server, label: string, plan: WalkPlan, figure: Figure): Promise<void> {
  const tags = await walk(server, plan, v2Pages(server, `/v2/${TAG_REPO}/tags/list?n=${PAGE}`, 'tags'));
  recordStats(server, `tags/list n=${PAGE}, ${label}`, tags, figure);
  figure(server, `tags/list n=${PAGE}, ${label}: pages`, tags.pages);
  if (!server.admin) return;
  for (const call of ['ListImages', 'DescribeImages'] as const) {
    recordStats(server, `ECR ${call} maxResults=${PAGE}, ${label}`, await walk(server, plan, ecrPages(server, call)), figure);
  }
}

/** The registry-wide listings at the current number of repositories. */
export async function measureRepositoryListings(server: Server, label: string, plan: WalkPlan, figure: Figure): Promise<void> {
  const catalog = await walk(server, plan, v2Pages(server, `/v2/_catalog?n=${PAGE}`, 'repositories'));
  recordStats(server, `_catalog n=${PAGE}, ${label}`, catalog, figure);
  if (!server.admin) return;
  recordStats(server, `ECR DescribeRepositories maxResults=${PAGE}, ${label}`, await walk(server, plan, ecrPages(server, 'DescribeRepositories')), figure);
}
