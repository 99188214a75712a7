/**
 * Online GC under load: for a while, pushes of images sharing layers into several
 * repositories (HEAD first and mount as real clients do, else upload), image deletes through
 * both APIs, and garbage-collection passes with zero grace from two sides at once (the server's
 * own periodic task every second and `berth gc` run beside it). A push may fail with a retriable
 * answer in the race window; none may leave a tagged image with a missing blob. Afterwards every
 * tag pulls byte-exact and a final pass leaves no unreferenced blob, in metadata or on disk.
 *
 * The load runs until enough of each kind of work has happened, not for a fixed time: on a busy
 * machine fewer pushes land per second (and more lose the race to a pass), so a clock-bounded
 * run could end before it has checked anything.
 */
import { BatchDeleteImageCommand } from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { startBerth, type BerthProcess } from './helpers/berth-process.js';
import { ecrClient } from './helpers/ecr-client.js';
import { makeImage, openMetadata, pullProblems, runGc, storedDigests, type TestImage } from './helpers/gc.js';
import { MediaTypes } from './helpers/oci-layout.js';
import { getBlob, listTags, pushBlob, pushManifest, request, sha256 } from './helpers/registry-http.js';

/** The load runs at least this long (more races on a fast machine), then until ENOUGH is done. */
const MIN_SECONDS = 15;
/** Only bounds a hang: a run that has not done ENOUGH by then fails with its counts. */
const MAX_SECONDS = 600;
/** Work the run must have done to be a real check: images pushed and deleted, CLI passes that swept. */
const ENOUGH = { pushed: 20, deleted: 5, cliSwept: 0 };
const PUSHERS = 4;
const REPOS = ['stress/a', 'stress/b', 'stress/c', 'stress/d'];
const SHARED = Array.from({ length: 8 }, (_, i) => randomBytes(1024 * (1 + i)));
const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

/** Answers a client may get while GC races it, and retries on: never a 5xx. */
const RETRIABLE = new Set(['429 TOOMANYREQUESTS', '400 MANIFEST_BLOB_UNKNOWN', '404 BLOB_UNKNOWN']);

class Refused extends Error {
  constructor(readonly kind: string) {
    super(kind);
  }
}

function refusal(status: number, body: Buffer): Refused {
  let code = '';
  try {
    code = (JSON.parse(body.toString()) as { errors?: Array<{ code: string }> }).errors?.[0]?.code ?? '';
  } catch {
    // not JSON
  }
  return new Refused(`${status} ${code}`);
}

/** A blob as docker pushes one: HEAD, else mount from another repository, else upload. */
async function ensureBlob(base: string, repo: string, data: Buffer): Promise<void> {
  const digest = sha256(data);
  if ((await getBlob(base, repo, digest, 'HEAD')).status === 200) return;
  const from = pick(REPOS.filter((r) => r !== repo));
  const mount = await request(`${base}/v2/${repo}/blobs/uploads/?mount=${digest}&from=${from}`, { method: 'POST' });
  if (mount.status === 201) return;
  if (mount.status === 202) {
    // Not mountable: cancel the session the spec opened and upload instead.
    const loc = mount.headers.get('location');
    if (loc) await request(new URL(loc, base).toString(), { method: 'DELETE' });
  } else throw refusal(mount.status, mount.body);
  const res = await pushBlob(base, repo, data);
  if (res.status !== 201) throw refusal(res.status, res.body);
}

async function push(base: string, img: TestImage): Promise<void> {
  await Promise.all([...img.blobs.values()].map((b) => ensureBlob(base, img.repo, b)));
  const res = await pushManifest(base, img.repo, img.tag, img.manifest, MediaTypes.manifest);
  if (res.status !== 201) throw refusal(res.status, res.body);
}

describe('garbage collection under concurrent pushes and deletes', () => {
  let berth: BerthProcess | undefined;
  after(async () => berth?.cleanup());

  it('never leaves a tagged image with a missing blob, and leaves nothing unreferenced', async (t) => {
    berth = await startBerth({ env: { BERTH_GC_INTERVAL_SECONDS: '1', BERTH_GC_GRACE_SECONDS: '0' } });
    const base = berth.url;
    const ecr = ecrClient(berth);
    const live = new Map<string, TestImage>();
    const outcomes = new Map<string, number>();
    const count = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
    const unexpected: string[] = [];
    const started = Date.now();
    let serial = 0;
    let cliSwept = 0;
    const enough = () => (outcomes.get('pushed') ?? 0) > ENOUGH.pushed && (outcomes.get('deleted') ?? 0) > ENOUGH.deleted && cliSwept > ENOUGH.cliSwept;
    const running = () => {
      const elapsed = Date.now() - started;
      return elapsed < MAX_SECONDS * 1000 && (elapsed < MIN_SECONDS * 1000 || !enough());
    };

    const pusher = async () => {
      while (running()) {
        const layers = [...new Set(Array.from({ length: 1 + Math.floor(Math.random() * 3) }, () => pick(SHARED)))];
        const img = makeImage(pick(REPOS), `p${serial++}`, [...layers, randomBytes(512)]);
        try {
          await push(base, img);
          live.set(`${img.repo}:${img.tag}`, img);
          count('pushed');
        } catch (e) {
          const kind = e instanceof Refused ? e.kind : String(e);
          count(kind);
          if (!RETRIABLE.has(kind)) unexpected.push(`push ${img.repo}:${img.tag}: ${kind}`);
        }
      }
    };
    const deleter = async () => {
      for (let i = 0; running(); i++) {
        const keys = [...live.keys()];
        // Enough images stay to make the final pulls a real check.
        if (keys.length < 24) {
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        const key = pick(keys);
        const img = live.get(key)!;
        live.delete(key);
        if (i % 2 === 0) {
          const out = await ecr.send(new BatchDeleteImageCommand({ repositoryName: img.repo, imageIds: [{ imageDigest: img.digest }] }));
          if (out.imageIds?.length !== 1) unexpected.push(`BatchDeleteImage ${key}: ${JSON.stringify(out.failures)}`);
        } else {
          const res = await request(`${base}/v2/${img.repo}/manifests/${img.digest}`, { method: 'DELETE' });
          if (res.status !== 202) unexpected.push(`DELETE ${key}: ${res.status}`);
        }
        count('deleted');
      }
    };
    const collector = async () => {
      while (running()) {
        cliSwept += (await runGc(berth!.dataDir)).swept.blobs;
        count('gc passes (CLI)');
      }
    };
    await Promise.all([...Array.from({ length: PUSHERS }, pusher), deleter(), collector()]);

    // The server's own pass stops with it (shutdown waits for a pass in progress); then one
    // final pass on the data directory, and the invariants checked on the files and rows.
    await berth.stop();
    const final = await runGc(berth.dataDir);
    cliSwept += final.swept.blobs;
    const db = openMetadata(berth.dataDir);
    const rows = (sql: string) => (db.prepare(sql).all() as Array<{ digest: string }>).map((r) => r.digest);
    const unreferenced = rows(
      `SELECT digest FROM blobs WHERE NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.child_digest = blobs.digest AND r.kind = 'blob')`,
    );
    const recorded = new Set(rows('SELECT digest FROM blobs'));
    const leftovers = { deletions: rows('SELECT digest FROM gc_blob_deletions'), commits: rows('SELECT digest FROM blob_commits') };
    db.close();
    const files = await storedDigests(berth.dataDir);

    berth = await startBerth({ dataDir: berth.dataDir, env: { BERTH_GC_INTERVAL_SECONDS: '0' } });
    const problems: string[] = [];
    for (const img of live.values()) problems.push(...(await pullProblems(berth.url, img.repo, img.tag)));
    // Every tag the server lists, not only the ones this test knows of, must pull whole.
    for (const repo of REPOS) {
      for (const tag of (await listTags(berth.url, repo)).tags) problems.push(...(await pullProblems(berth.url, repo, tag)));
    }

    const summary = JSON.stringify({ outcomes: Object.fromEntries(outcomes), live: live.size, cliSwept, seconds: Math.round((Date.now() - started) / 1000) });
    t.diagnostic(summary);
    assert.deepEqual(unexpected, [], summary);
    assert.deepEqual(problems, [], summary);
    assert.ok((outcomes.get('pushed') ?? 0) > ENOUGH.pushed && (outcomes.get('deleted') ?? 0) > ENOUGH.deleted, summary);
    assert.ok(cliSwept > ENOUGH.cliSwept, `no CLI pass deleted anything: ${summary}`);
    assert.deepEqual(unreferenced, [], 'a blob row no manifest references survived the final pass');
    assert.deepEqual(leftovers, { deletions: [], commits: [] });
    assert.deepEqual(
      [...files].filter((d) => !recorded.has(d)),
      [],
      'blob files without a blob row',
    );
    assert.deepEqual(
      [...recorded].filter((d) => !files.has(d)),
      [],
      'blob rows without their file',
    );
  });
});
