/**
 * Deletes racing pushes of multi-arch images and their referrers, probed from outside as an
 * external checker would: raw /v2 requests and @aws-sdk/client-ecr against the real app in
 * process, while garbage collection runs with zero grace from two sides (the server's own pass
 * every second and `berth gc` beside it) and `berth lifecycle run` expires untagged images.
 *
 * The load: pushers put two child images (blobs HEADed, mounted from the other repository or
 * uploaded, as docker does), then an index listing them by tag, then a signature whose subject
 * is the index; a child deleter tries to delete children of live indexes (must be refused); an
 * index deleter deletes an index, then its children and signature, so their layers become
 * garbage while other pushes reuse them. gc-stress.test.ts covers plain images; this covers the
 * manifests that point at manifests. Afterwards, and again after a final pass: every image the
 * registry lists reads whole, every live index by tag with all its children, every signature.
 */
import { BatchDeleteImageCommand, CreateRepositoryCommand, ListImagesCommand, PutLifecyclePolicyCommand, type ECRClient } from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { cliPath } from '../e2e/helpers/berth-process.js';
import { ecrClient } from '../e2e/helpers/ecr-client.js';
import { runGc } from '../e2e/helpers/gc.js';
import { MediaTypes } from '../e2e/helpers/oci-layout.js';
import { errorCode, getBlob, getManifest, makeImage, pushBlob, pushManifest, request, sha256, type TestImage } from '../e2e/helpers/registry-http.js';
import { HANG_MS } from '../e2e/helpers/wait-for.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const run = promisify(execFile);
const REPOS = ['races/a', 'races/b'];
const SHARED = Array.from({ length: 6 }, (_, i) => randomBytes(512 * (1 + i)));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
/** Work the load must have done to be a real check. */
const ENOUGH = { indexes: 24, childRefusals: 8, indexDeletes: 8, swept: 1, expired: 1 };
/** Answers a push may get while a pass or an expiry races it (the client retries): never a 5xx. */
const RETRIABLE = new Set(['429 TOOMANYREQUESTS', '400 MANIFEST_BLOB_UNKNOWN', '404 BLOB_UNKNOWN']);
const UNTAGGED_KEEP_ONE = JSON.stringify({
  rules: [{ rulePriority: 1, selection: { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } }],
});

interface LiveIndex {
  repo: string;
  tag: string;
  digest: string;
  children: TestImage[];
  signature: string;
}

class Refused extends Error {}

describe('deletes racing pushes of indexes and referrers, with GC and lifecycle running', () => {
  let berth: BerthInProcess;
  let ecr: ECRClient;

  before(async () => {
    berth = await startInProcess({ onDisk: true, env: { BERTH_GC_INTERVAL_SECONDS: '1', BERTH_GC_GRACE_SECONDS: '0' } });
    ecr = ecrClient(berth);
    for (const repositoryName of REPOS) await ecr.send(new CreateRepositoryCommand({ repositoryName }));
  });
  after(async () => berth?.cleanup());

  const check = (what: string, status: number, body: Buffer, ok: number): void => {
    if (status !== ok) throw new Refused(`${status} ${errorCode({ status, body, headers: new Headers() }) ?? ''}`.trim() + ` (${what})`);
  };

  /** A blob as docker pushes one: HEAD, else mount from the other repository, else upload. */
  const ensureBlob = async (repo: string, data: Buffer): Promise<void> => {
    const digest = sha256(data);
    if ((await getBlob(berth.url, repo, digest, 'HEAD')).status === 200) return;
    const from = REPOS.find((r) => r !== repo)!;
    const mount = await request(`${berth.url}/v2/${repo}/blobs/uploads/?mount=${digest}&from=${from}`, { method: 'POST' });
    if (mount.status === 201) return;
    const loc = mount.headers.get('location');
    if (mount.status === 202 && loc) await request(new URL(loc, berth.url).toString(), { method: 'DELETE' });
    const res = await pushBlob(berth.url, repo, data);
    check('blob', res.status, res.body, 201);
  };

  const pushIndex = async (repo: string, tag: string): Promise<LiveIndex> => {
    const children = [0, 1].map(() => makeImage(repo, '', [pick(SHARED), randomBytes(256)]));
    for (const child of children) {
      await Promise.all([...child.blobs.values()].map((b) => ensureBlob(repo, b)));
      const res = await pushManifest(berth.url, repo, child.digest, child.manifest, MediaTypes.manifest);
      check('child', res.status, res.body, 201);
    }
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.index,
        manifests: children.map((c, i) => ({
          mediaType: MediaTypes.manifest,
          digest: c.digest,
          size: c.manifest.length,
          platform: { architecture: `a${i}`, os: 'linux' },
        })),
      }),
    );
    const put = await pushManifest(berth.url, repo, tag, index, MediaTypes.index);
    check('index', put.status, put.body, 201);
    const empty = Buffer.from('{}');
    await ensureBlob(repo, empty);
    const signature = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.manifest,
        artifactType: 'application/vnd.example.signature',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(empty), size: 2 },
        layers: [],
        subject: { mediaType: MediaTypes.index, digest: sha256(index), size: index.length },
        annotations: { nonce: randomBytes(8).toString('hex') },
      }),
    );
    const sig = await pushManifest(berth.url, repo, sha256(signature), signature, MediaTypes.manifest);
    check('signature', sig.status, sig.body, 201);
    return { repo, tag, digest: sha256(index), children, signature: sha256(signature) };
  };

  /** What is wrong with one manifest the registry lists: it must read whole, children and blobs included. */
  const readProblems = async (repo: string, ref: string): Promise<string[]> => {
    const m = await getManifest(berth.url, repo, ref);
    if (m.status !== 200) return [`${repo}@${ref}: manifest → ${m.status}`];
    const parsed = JSON.parse(m.body.toString()) as { config?: { digest: string }; layers?: Array<{ digest: string }>; manifests?: Array<{ digest: string }> };
    const problems: string[] = [];
    for (const b of [...(parsed.config ? [parsed.config] : []), ...(parsed.layers ?? [])]) {
      const blob = await getBlob(berth.url, repo, b.digest);
      if (blob.status !== 200) problems.push(`${repo}@${ref}: blob ${b.digest} → ${blob.status}`);
      else if (sha256(blob.body) !== b.digest) problems.push(`${repo}@${ref}: blob ${b.digest} hashes to ${sha256(blob.body)}`);
    }
    for (const c of parsed.manifests ?? []) problems.push(...(await readProblems(repo, c.digest)));
    return problems;
  };

  const wholeRegistryProblems = async (live: Map<string, LiveIndex>): Promise<string[]> => {
    const problems: string[] = [];
    for (const repo of REPOS) {
      const listed = new Set<string>();
      let nextToken: string | undefined;
      do {
        const page = await ecr.send(new ListImagesCommand({ repositoryName: repo, maxResults: 1000, ...(nextToken && { nextToken }) }));
        for (const id of page.imageIds ?? []) listed.add(id.imageDigest!);
        nextToken = page.nextToken;
      } while (nextToken);
      for (const digest of listed) problems.push(...(await readProblems(repo, digest)));
    }
    for (const ix of live.values()) {
      const byTag = await getManifest(berth.url, ix.repo, ix.tag);
      if (byTag.status !== 200 || sha256(byTag.body) !== ix.digest) problems.push(`${ix.repo}:${ix.tag} no longer names its index (${byTag.status})`);
      if ((await getManifest(berth.url, ix.repo, ix.signature, 'HEAD')).status !== 200) problems.push(`${ix.repo}:${ix.tag}: its signature is gone`);
      const referrers = JSON.parse((await request(`${berth.url}/v2/${ix.repo}/referrers/${ix.digest}`)).body.toString()) as {
        manifests: Array<{ digest: string }>;
      };
      if (!referrers.manifests.some((r) => r.digest === ix.signature)) problems.push(`${ix.repo}:${ix.tag}: the referrers API lost its signature`);
    }
    return problems;
  };

  it('never leaves an index without a child, a listed image without a blob, or a live image without its signature', async (t) => {
    await ecr.send(new PutLifecyclePolicyCommand({ repositoryName: 'races/a', lifecyclePolicyText: UNTAGGED_KEEP_ONE }));
    const live = new Map<string, LiveIndex>();
    const counts = { indexes: 0, childRefusals: 0, indexDeletes: 0, swept: 0, expired: 0, retried: 0 };
    const unexpected: string[] = [];
    const started = Date.now();
    const enough = () => (Object.keys(ENOUGH) as Array<keyof typeof ENOUGH>).every((k) => counts[k] >= ENOUGH[k]);
    const running = () => !enough() && Date.now() - started < HANG_MS;
    let serial = 0;
    // Children the child deleter is trying now: the index deleter leaves their index alone, so a
    // refusal is the registry's doing, not the test's own ordering.
    const busy = new Set<string>();

    const pusher = async () => {
      while (running()) {
        const repo = pick(REPOS);
        const tag = `i${serial++}`;
        try {
          live.set(`${repo}:${tag}`, await pushIndex(repo, tag));
          counts.indexes++;
        } catch (e) {
          const kind = e instanceof Refused ? e.message.replace(/ \(.*\)$/, '') : String(e);
          if (RETRIABLE.has(kind)) counts.retried++;
          else unexpected.push(`push ${repo}:${tag}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    };
    const childDeleter = async () => {
      for (let i = 0; running(); i++) {
        const candidates = [...live.values()];
        if (candidates.length === 0) {
          await new Promise((r) => setImmediate(r));
          continue;
        }
        const ix = pick(candidates);
        busy.add(ix.digest);
        try {
          const child = pick(ix.children);
          if (i % 2 === 0) {
            const res = await request(`${berth.url}/v2/${ix.repo}/manifests/${child.digest}`, { method: 'DELETE' });
            if (res.status === 409 && errorCode(res) === 'DENIED') counts.childRefusals++;
            else unexpected.push(`DELETE child of live ${ix.repo}:${ix.tag} → ${res.status} ${res.body.toString()}`);
          } else {
            const out = await ecr.send(new BatchDeleteImageCommand({ repositoryName: ix.repo, imageIds: [{ imageDigest: child.digest }] }));
            if (out.failures?.[0]?.failureCode === 'ImageReferencedByManifestList') counts.childRefusals++;
            else unexpected.push(`BatchDeleteImage child of live ${ix.repo}:${ix.tag} → ${JSON.stringify(out)}`);
          }
        } finally {
          busy.delete(ix.digest);
        }
        // Paced: a refusal costs the server little, and the pushers must get their turns.
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const indexDeleter = async () => {
      while (running()) {
        const candidates = [...live.entries()].filter(([, ix]) => !busy.has(ix.digest));
        if (live.size < 6 || candidates.length === 0) {
          await new Promise((r) => setTimeout(r, 5));
          continue;
        }
        const [key, ix] = pick(candidates);
        live.delete(key);
        const out = await ecr.send(new BatchDeleteImageCommand({ repositoryName: ix.repo, imageIds: [{ imageDigest: ix.digest }] }));
        if (out.imageIds?.length !== 1) unexpected.push(`delete index ${key}: ${JSON.stringify(out.failures)}`);
        counts.indexDeletes++;
        // Its children may go now (unless lifecycle was first); the signature is left dangling on
        // purpose half the time, as a client that deletes only the index leaves it.
        const ids = [...ix.children.map((c) => ({ imageDigest: c.digest })), ...(counts.indexDeletes % 2 === 0 ? [{ imageDigest: ix.signature }] : [])];
        const rest = await ecr.send(new BatchDeleteImageCommand({ repositoryName: ix.repo, imageIds: ids }));
        for (const f of rest.failures ?? []) if (f.failureCode !== 'ImageNotFound') unexpected.push(`delete after index ${key}: ${JSON.stringify(f)}`);
      }
    };
    const collector = async () => {
      while (running()) counts.swept += (await runGc(berth.dataDir)).swept.blobs;
    };
    const expirer = async () => {
      while (running()) {
        const { stdout } = await run(process.execPath, [cliPath, 'lifecycle', 'run', '--data-dir', berth.dataDir, '--repository', 'races/a', '--json']);
        const [report] = JSON.parse(stdout) as Array<{ expired: unknown[]; referrersExpired: number }>;
        counts.expired += report!.expired.length + report!.referrersExpired;
      }
    };
    await Promise.all([pusher(), pusher(), pusher(), childDeleter(), indexDeleter(), collector(), expirer()]);

    const summary = JSON.stringify({ counts, live: live.size, seconds: Math.round((Date.now() - started) / 1000) });
    t.diagnostic(summary);
    assert.ok(enough(), `the load did not do enough to be a check: ${summary}`);
    assert.deepEqual(unexpected, [], summary);
    assert.deepEqual(await wholeRegistryProblems(live), [], summary);
    // One more pass of each, with nothing racing them: still nothing lost.
    await runGc(berth.dataDir);
    await run(process.execPath, [cliPath, 'lifecycle', 'run', '--data-dir', berth.dataDir, '--repository', 'races/a', '--json']);
    await runGc(berth.dataDir);
    assert.deepEqual(await wholeRegistryProblems(live), [], summary);
  });
});
