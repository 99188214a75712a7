/**
 * Listings at scale: one repository grown to many tags (each its own manifest), then many
 * repositories, seeded through the API (a manifest PUT per tag, concurrent, on keep-alive
 * connections; a repository is a blob mount plus a manifest PUT). At each size, every page of
 * each listing is read twice, timing each page (p50 / p99 / max), with the server's resident
 * memory before and at its peak during the walks. The /v2 listings run on both servers; the ECR
 * API listings on Berth only (the reference has none). A page's time is the server's: from the
 * request sent (already signed) to the last byte of the answer, parsing excluded. When Berth's
 * servers keep an access log (BENCH_SCALE_ACCESS_LOG=1), each walk's slowest page also says what
 * the server itself logged for it (`ms`, matched by the `x-amzn-RequestId` it answered): a slow
 * page whose server time is small waited on the machine or the client, not on Berth.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { majorGc, minorGc } from '../src/core/minor-gc.js';
import { AccessLogTimes, REQUEST_ID_HEADER } from './access-log-times.js';
import { pushBlob } from './http-client.js';
import { rssBytes, watchPeakRss } from './proc-stats.js';
import { seedBerth, seedReference, type SeedImage } from './scale-seed-direct.js';
import type { Server } from './servers.js';

const MiB = 1024 * 1024;
const OCI = 'application/vnd.oci.image.manifest.v1+json';
export const TAG_REPO = 'scale/tags';
const CONCURRENCY = 16;
export const PAGE = 1000;

export interface PageStats {
  pages: number;
  items: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /**
   * Where the slowest page fell (1-based), so a lone slow page says whether it was a walk's first,
   * and the server's own ms for it (its access log; undefined for the reference, or if not logged).
   */
  slowest: { pass: number; page: number; serverMs?: number };
  /** The server's own ms per page, p99 and max, from its access log (Berth only). */
  server?: { p99Ms: number; maxMs: number; missing: number };
  rssBeforeMB: number;
  rssPeakMB: number;
}

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
    if (this.server.admin) seedBerth(this.server, this.config, images);
    else await seedReference(this.server, this.config, images);
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

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export interface Page {
  items: number;
  next?: string;
  ms: number;
  /** The request id the server answered with (Berth's `x-amzn-RequestId`), if any. */
  id?: string;
}

/**
 * The bench's own collections, taken between pages rather than inside them: a page's time is
 * the server's, and a pause of this process while it reads an answer counted in it (the
 * seed's garbage made the first page after seeding 15–50 ms where the server took 2–3 ms,
 * notes/2026-12-06-s24-s24-list.md). A full one before each walk, a scavenge after each page.
 * Not a full one after each page: it took every pause out of the pages but made the pages after
 * it slower (tags/list walk medians 6.8 against 4.4 ms; even after a 5–10 ms rest), while a
 * scavenge changes nothing measurable (3.2 against 3.4). What remains: on 100,000-tag
 * DescribeImages walks an incremental-marking step (10–13 ms) may still fall inside a page.
 */
export const benchGc = {
  beforeWalk: majorGc,
  afterPage: async (): Promise<void> => minorGc(),
};

/** Reads a whole listing `passes` times; `page(token)` returns the items, the next token and its time. */
async function walk(server: Server, passes: number, page: (token?: string) => Promise<Page>): Promise<PageStats> {
  const log = server.accessLog ? new AccessLogTimes(server.accessLog) : undefined;
  await log?.skipToEnd();
  const ids: Array<string | undefined> = [];
  benchGc.beforeWalk();
  const rssBefore = rssBytes(server.pid);
  const stop = watchPeakRss(server.pid);
  const times: number[] = [];
  let items = 0;
  let slowest = { pass: 0, page: 0, ms: -1, id: undefined as string | undefined };
  for (let pass = 0; pass < passes; pass++) {
    let token: string | undefined;
    items = 0;
    let index = 0;
    do {
      const r = await page(token);
      await benchGc.afterPage();
      times.push(r.ms);
      ids.push(r.id);
      index++;
      if (r.ms > slowest.ms) slowest = { pass: pass + 1, page: index, ms: r.ms, id: r.id };
      items += r.items;
      token = r.next;
    } while (token !== undefined);
  }
  const peak = stop();
  times.sort((a, b) => a - b);
  // After the walk, outside its pages: the log is read while no page is timed.
  const logged = log ? await log.times(ids.filter((id) => id !== undefined)) : undefined;
  const serverTimes = logged ? [...logged.values()].sort((a, b) => a - b) : [];
  const slowestServerMs = slowest.id !== undefined ? logged?.get(slowest.id) : undefined;
  return {
    pages: times.length / passes,
    items,
    p50Ms: percentile(times, 50),
    p99Ms: percentile(times, 99),
    maxMs: times[times.length - 1]!,
    slowest: { pass: slowest.pass, page: slowest.page, ...(slowestServerMs !== undefined && { serverMs: slowestServerMs }) },
    ...(logged &&
      serverTimes.length > 0 && {
        server: { p99Ms: percentile(serverTimes, 99), maxMs: serverTimes[serverTimes.length - 1]!, missing: ids.length - serverTimes.length },
      }),
    rssBeforeMB: rssBefore / MiB,
    rssPeakMB: peak / MiB,
  };
}

/** A /v2 listing followed through its Link headers. */
export function v2Pages(server: Server, first: string, field: 'tags' | 'repositories') {
  return async (token?: string): Promise<Page> => {
    const t = performance.now();
    const res = await fetch(new URL(token ?? first, server.url), { headers: server.headers });
    const text = await res.text();
    const ms = performance.now() - t;
    if (res.status !== 200) throw new Error(`${server.name}: GET ${token ?? first} answered ${res.status}`);
    const body = JSON.parse(text) as Record<string, string[] | null>;
    const link = /<([^>]+)>;\s*rel="?next"?/.exec(res.headers.get('link') ?? '');
    const id = res.headers.get(REQUEST_ID_HEADER) ?? undefined;
    return { items: body[field]?.length ?? 0, ms, ...(link && { next: link[1]! }), ...(id && { id }) };
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
    const t = performance.now();
    const res = await fetch(server.url, { method: 'POST', headers: signed.headers as Record<string, string>, body });
    const text = await res.text();
    const ms = performance.now() - t;
    if (res.status !== 200) throw new Error(`${server.name}: ${call} answered ${res.status}: ${text.slice(0, 200)}`);
    const out = JSON.parse(text) as Record<string, unknown[] | string | undefined>;
    const items = out[LIST_FIELD[call]];
    const id = res.headers.get(REQUEST_ID_HEADER) ?? undefined;
    return { items: Array.isArray(items) ? items.length : 0, ms, ...(typeof out.nextToken === 'string' && { next: out.nextToken }), ...(id && { id }) };
  };
}

/** The slowest page's server and client time; the server's p99 and max over the walk beside it. */
export function slowestLine(server: Pick<Server, 'accessLog'>, s: Pick<PageStats, 'maxMs' | 'slowest' | 'server'>): string {
  const client = `client ${s.maxMs.toFixed(1)} ms`;
  if (!server.accessLog) return `server n/a, ${client}`;
  const own = s.slowest.serverMs === undefined ? 'server ? (not in its access log)' : `server ${s.slowest.serverMs.toFixed(1)} ms`;
  const walk = s.server
    ? `; server p99 ${s.server.p99Ms.toFixed(1)}, max ${s.server.maxMs.toFixed(1)} ms${s.server.missing > 0 ? `, ${s.server.missing} pages not logged` : ''}`
    : '';
  return `${own}, ${client}${walk}`;
}

function recordStats(server: Server, name: string, s: PageStats, figure: Figure): void {
  figure(server, `${name}: p50 ms per page`, s.p50Ms);
  figure(server, `${name}: p99 ms per page`, s.p99Ms);
  figure(server, `${name}: peak RSS MB`, s.rssPeakMB);
  console.error(
    `  ${server.name}: ${name}: ${s.pages} pages, ${s.items} items, p50 ${s.p50Ms.toFixed(1)} ms, p99 ${s.p99Ms.toFixed(1)} ms, max ${s.maxMs.toFixed(1)} ms (pass ${s.slowest.pass}, page ${s.slowest.page}: ${slowestLine(server, s)}), RSS ${s.rssBeforeMB.toFixed(0)} → peak ${s.rssPeakMB.toFixed(0)} MB`,
  );
}

/** The tag-repository listings at its current size (`label`, e.g. "100k tags"). */
export async function measureTagListings(server: Server, label: string, passes: number, figure: Figure): Promise<void> {
  const tags = await walk(server, passes, v2Pages(server, `/v2/${TAG_REPO}/tags/list?n=${PAGE}`, 'tags'));
  recordStats(server, `tags/list n=${PAGE}, ${label}`, tags, figure);
  figure(server, `tags/list n=${PAGE}, ${label}: pages`, tags.pages);
  if (!server.admin) return;
  for (const call of ['ListImages', 'DescribeImages'] as const) {
    recordStats(server, `ECR ${call} maxResults=${PAGE}, ${label}`, await walk(server, passes, ecrPages(server, call)), figure);
  }
}

/** The registry-wide listings at the current number of repositories. */
export async function measureRepositoryListings(server: Server, label: string, passes: number, figure: Figure): Promise<void> {
  const catalog = await walk(server, passes, v2Pages(server, `/v2/_catalog?n=${PAGE}`, 'repositories'));
  recordStats(server, `_catalog n=${PAGE}, ${label}`, catalog, figure);
  if (!server.admin) return;
  recordStats(server, `ECR DescribeRepositories maxResults=${PAGE}, ${label}`, await walk(server, passes, ecrPages(server, 'DescribeRepositories')), figure);
}
