/**
 * Crash consistency: Berth is SIGKILLed in the middle of large streamed uploads and in the middle
 * of fifty concurrent pushes, then restarted on the same data directory. Whatever instant the
 * kill lands on, the store must stay consistent (design decision 2): acknowledged images pull
 * byte-exact, every manifest that is served is complete, tags point only at manifests that are
 * served, a digest served always hashes to itself, and the registry keeps accepting pushes.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { authorizationFor } from './helpers/logins.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startBerth, type BerthProcess } from './helpers/berth-process.js';
import { MediaTypes } from './helpers/oci-layout.js';
import {
  asBody,
  catalog,
  errorCode,
  type Fetched,
  getBlob,
  getManifest,
  listTags,
  makeImage,
  pushBlob,
  pushManifest,
  request,
  sha256,
  startUpload,
  type TestImage,
  uploadUrl,
} from './helpers/registry-http.js';

const MiB = 1 << 20;
/**
 * Three rounds, each a kill in a burst of pushes at its own depth (below). The big uploads are
 * killed in the first and last rounds only: shallow (each stream past 10 MiB, on a store that has
 * seen no crash) and deep (past 22 MiB, after three crashes' leftovers). Both are the same phase,
 * mid-stream with bytes unacknowledged; the middle depth (16 MiB) repeated it, and was dropped.
 */
const ROUNDS = 3;
const BIG_ROUNDS = [1, 3];
const BURST = 50;
/** Declared size of the big streamed uploads; the kill lands long before the end. */
const BIG_TOTAL = 200 * MiB;
/**
 * Bounds on waits that only end a hang: the kill waits for its trigger (bytes streamed, pushes
 * acknowledged) however slow the machine is, and each test may take as long as a loaded machine
 * needs to restart the server and re-read the whole store.
 */
const TRIGGER_HANG_MS = 120_000;
const TEST_HANG_MS = 600_000;

/** Pushes blobs (in parallel) then the manifest by tag; throws unless every step answered 201. */
async function pushImage(base: string, img: TestImage, mode: 'put' | 'patch'): Promise<void> {
  await Promise.all(
    [...img.blobs.values()].map(async (data) => {
      const res = await pushBlob(base, img.repo, data, mode);
      if (res.status !== 201) throw new HttpError(`blob push to ${img.repo} → ${res.status} ${res.body.toString()}`);
    }),
  );
  const res = await pushManifest(base, img.repo, img.tag, img.manifest, MediaTypes.manifest);
  if (res.status !== 201) throw new HttpError(`manifest PUT ${img.repo}:${img.tag} → ${res.status} ${res.body.toString()}`);
  assert.equal(res.headers.get('docker-content-digest'), img.digest);
}

/** A response the server really sent (as opposed to a connection cut by the kill). */
class HttpError extends Error {}

/** Deterministic 1 MiB chunks, so any prefix of a stream can be re-hashed after the crash. */
function chunkSource(): (i: number) => Buffer {
  const base = randomBytes(MiB);
  return (i) => {
    const c = Buffer.from(base);
    c.writeUInt32BE(i, 0);
    return c;
  };
}

function prefixDigest(chunk: (i: number) => Buffer, bytes: number): string {
  const h = createHash('sha256');
  for (let i = 0, left = bytes; left > 0; i++, left -= MiB) h.update(chunk(i).subarray(0, Math.min(MiB, left)));
  return `sha256:${h.digest('hex')}`;
}

interface BigStream {
  req: ClientRequest;
  sent(): number;
  /** The status, if the server answered before the kill. */
  status(): number | undefined;
  done: Promise<void>;
}

/** Streams `total` bytes slowly (1 MiB, then a pause) with backpressure, until done or cut. */
function streamBig(url: string, method: 'PATCH' | 'PUT', total: number, chunk: (i: number) => Buffer): BigStream {
  const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
  if (method === 'PUT') headers['Content-Length'] = String(total);
  const auth = authorizationFor(url);
  if (auth) headers.Authorization = auth;
  const req = httpRequest(url, { method, headers });
  let sent = 0;
  let status: number | undefined;
  req.on('response', (res) => {
    status = res.statusCode;
    res.resume();
  });
  req.on('error', () => {}); // the kill cuts the connection; that is the point
  // Not events.once: it rejects on 'error', and a cut connection is expected here.
  const closed = new Promise<void>((res) => req.once('close', res));
  const drained = () => new Promise<void>((res) => req.once('drain', res));
  const done = (async () => {
    for (let i = 0; sent < total && !req.destroyed && status === undefined; i++) {
      const c = chunk(i).subarray(0, Math.min(MiB, total - sent));
      const flushed = req.write(c);
      sent += c.length;
      if (!flushed) await Promise.race([drained(), closed]);
      await sleep(1);
    }
    if (!req.destroyed) req.end();
  })();
  return { req, sent: () => sent, status: () => status, done };
}

describe('crash consistency under SIGKILL', () => {
  let berth: BerthProcess;
  let dataDir: string;
  /** Images whose every push step was acknowledged with 201: they must survive any crash. */
  const complete: TestImage[] = [];
  /** Every image a push was started for, acknowledged or not. */
  const attempted: TestImage[] = [];
  /** Blobs whose upload was cut by a kill: never to be served. */
  const neverComplete: { repo: string; digest: string }[] = [];

  before(async () => {
    berth = await startBerth();
    dataDir = berth.dataDir;
    for (const [i, tag] of ['v1', 'v2'].entries()) {
      const img = makeImage(`crash/base-${i}`, tag, [randomBytes(4 * MiB), randomBytes(100 * 1024), randomBytes(1000)]);
      attempted.push(img);
      await pushImage(berth.url, img, i === 0 ? 'put' : 'patch');
      complete.push(img);
    }
  });

  after(async () => {
    await berth?.cleanup();
  });

  async function restart(): Promise<void> {
    berth = await startBerth({ dataDir });
  }

  /** All the invariants that must hold after any crash. */
  async function verifyStore(): Promise<void> {
    const base = berth.url;
    // Each manifest reference and blob is fetched once in a verification, and its one answer checked
    // for every image and listing that names it: nothing writes to the store meanwhile, and the
    // next round's verification fetches everything again.
    const get = served(base);
    for (const img of complete) await assertImageIntact(get, img, 'tag');

    for (const img of attempted) {
      const m = await get.manifest(img.repo, img.digest);
      assert.ok(m.status === 200 || m.status === 404, `GET ${img.repo}@${img.digest} → ${m.status}`);
      if (m.status === 200) await assertImageIntact(get, img, 'digest');
      const t = await get.manifest(img.repo, img.tag);
      if (t.status === 200) assert.equal(t.headers.get('docker-content-digest'), img.digest, `${img.repo}:${img.tag}`);
      for (const [digest, data] of img.blobs) {
        const b = await get.blob(img.repo, digest);
        assert.ok(b.status === 200 || b.status === 404, `GET blob ${img.repo}@${digest} → ${b.status}`);
        if (b.status === 200) assert.deepEqual(b.body, data, `served blob ${digest} in ${img.repo} is exactly its content`);
      }
    }

    for (const { repo, digest } of neverComplete) {
      const b = await getBlob(base, repo, digest, 'HEAD');
      assert.equal(b.status, 404, `a cut upload must leave nothing under ${digest}`);
    }

    // Listings agree with what is served.
    for (const repo of await catalog(base)) {
      const { status, tags } = await listTags(base, repo);
      // A repository holding only blobs (an upload cut by the kill) may have no tag listing.
      assert.ok(status === 200 || status === 404, `tags/list of cataloged ${repo} → ${status}`);
      for (const tag of tags) {
        const m = await get.manifest(repo, tag);
        assert.equal(m.status, 200, `${repo}:${tag} is listed, so it must GET`);
        const digest = m.headers.get('docker-content-digest');
        assert.equal(sha256(m.body), digest, `${repo}:${tag} bytes hash to Docker-Content-Digest`);
        await assertManifestComplete(get, repo, m.body);
      }
    }
  }

  /** Kills once the trigger holds; the bound only ends a hang (the kill still lands, and is reported). */
  async function killWhen(t: { diagnostic(msg: string): void }, trigger: Promise<unknown>): Promise<void> {
    // Unref'd, so the leftover timer doesn't keep the test process alive once all is done.
    const bound = sleep(TRIGGER_HANG_MS, 'bound', { ref: false });
    if ((await Promise.race([trigger.then(() => 'trigger'), bound])) === 'bound') t.diagnostic(`the kill trigger did not hold within ${TRIGGER_HANG_MS} ms`);
    await berth.kill();
  }

  for (let round = 1; round <= ROUNDS; round++) {
    if (BIG_ROUNDS.includes(round))
      it(`round ${round}: SIGKILL in the middle of two streamed 200 MiB uploads`, { timeout: TEST_HANG_MS }, async (t) => {
        const repo = `crash/big-${round}`;
        const chunk = chunkSource();
        const fullDigest = prefixDigest(chunk, BIG_TOTAL);
        neverComplete.push({ repo, digest: fullDigest });

        // The PATCH session first receives two acknowledged chunks, so a crash leaves real bytes in it.
        const patchUrl = await startUpload(berth.url, repo);
        const acked = [chunk(0), chunk(1)];
        let resumeUrl = patchUrl;
        for (const [i, c] of acked.entries()) {
          const res = await request(resumeUrl, {
            method: 'PATCH',
            headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${i * MiB}-${(i + 1) * MiB - 1}` },
            body: asBody(c),
          });
          assert.equal(res.status, 202, `PATCH chunk ${i}: ${res.body.toString()}`);
          assert.equal(res.headers.get('range'), `0-${(i + 1) * MiB - 1}`);
          resumeUrl = uploadUrl(berth.url, res.headers.get('location') ?? resumeUrl);
        }
        const rest = (i: number) => chunk(i + acked.length);
        const putUrl = await startUpload(berth.url, repo);
        const patching = streamBig(resumeUrl, 'PATCH', BIG_TOTAL - acked.length * MiB, rest);
        const putting = streamBig(uploadUrl(berth.url, putUrl, `digest=${fullDigest}`), 'PUT', BIG_TOTAL, chunk);
        // Each stream has sent its share (or was answered early, and stopped): the kill lands mid-stream.
        const threshold = (4 + 6 * round) * MiB;
        const midStream = (s: BigStream) => s.sent() >= threshold || s.status() !== undefined;
        const reached = (async () => {
          while (!(midStream(patching) && midStream(putting))) await sleep(5);
        })();
        await killWhen(t, reached);
        await Promise.all([patching.done, putting.done]);
        assert.notEqual(putting.status(), 201, 'a PUT whose body was cut cannot have succeeded');
        t.diagnostic(`killed after PATCH ${patching.sent()} B, PUT ${putting.sent()} B (answered ${putting.status() ?? 'nothing'})`);

        await restart();
        await verifyStore();

        // An interrupted session is either gone or resumable from exactly the bytes it holds.
        const status = await request(rebase(resumeUrl, berth.url));
        assert.ok(status.status === 404 || status.status === 204, `GET upload after crash → ${status.status}`);
        t.diagnostic(`interrupted session after restart: ${status.status} ${status.headers.get('range') ?? ''}`);
        if (status.status === 404) assert.equal(errorCode(status), 'BLOB_UPLOAD_UNKNOWN');
        const range = /^0-(\d+)$/.exec(status.headers.get('range') ?? '');
        if (status.status === 204 && range && Number(range[1]) > 0) {
          const held = Number(range[1]) + 1;
          const sent = acked.length * MiB + patching.sent();
          assert.ok(held <= sent, `session claims ${held} bytes, only ${sent} were sent`);
          const digest = prefixDigest(chunk, held);
          const location = uploadUrl(berth.url, status.headers.get('location') ?? rebase(resumeUrl, berth.url), `digest=${digest}`);
          const done = await request(location, { method: 'PUT' });
          assert.equal(done.status, 201, `resuming an upload that reports Range 0-${held - 1}: ${done.body.toString()}`);
          const blob = await getBlob(berth.url, repo, digest);
          assert.equal(blob.status, 200);
          assert.equal(sha256(blob.body), digest);
        }
        await request(rebase(putUrl, berth.url), { method: 'DELETE' });
        assert.equal((await getBlob(berth.url, repo, fullDigest, 'HEAD')).status, 404);
      });

    it(`round ${round}: SIGKILL while ${BURST} pushes are in flight`, { timeout: TEST_HANG_MS }, async (t) => {
      const shared = randomBytes(64 * 1024);
      const burst = Array.from({ length: BURST }, (_, i) =>
        makeImage(`crash/burst-${round}-${i % 10}`, `t${i}`, [shared, randomBytes(1024 + ((i * 7919) % (96 * 1024)))]),
      );
      attempted.push(...burst);
      const acked: TestImage[] = [];
      const refused: string[] = [];
      let notify = () => {};
      // Kill at different depths: almost at once, and after some or most manifests landed.
      const wantAcked = [0, 10, 30][(round - 1) % 3]!;
      const enough = new Promise<void>((res) => (notify = () => acked.length >= wantAcked && res()));
      const pushes = burst.map((img, i) =>
        pushImage(berth.url, img, i % 2 ? 'patch' : 'put').then(
          () => {
            acked.push(img);
            notify();
          },
          (err: unknown) => {
            if (err instanceof HttpError || err instanceof assert.AssertionError) refused.push(String(err));
          },
        ),
      );
      const settled = Promise.all(pushes);
      await killWhen(t, wantAcked === 0 ? sleep(5 + round) : Promise.race([enough, settled]));
      await settled;
      complete.push(...acked);
      t.diagnostic(`killed with ${acked.length}/${BURST} pushes acknowledged`);
      assert.deepEqual(refused, [], 'a live server accepted every valid push it answered');

      await restart();
      await verifyStore();

      // Whatever the crash left half-done must not stand in the way of pushing it again.
      const unfinished = burst.filter((img) => !acked.includes(img));
      for (let i = 0; i < unfinished.length; i += 10) {
        await Promise.all(unfinished.slice(i, i + 10).map((img, j) => pushImage(berth.url, img, j % 2 ? 'put' : 'patch')));
      }
      complete.push(...unfinished);
      const fresh = makeImage(`crash/after-${round}`, 'latest', [shared, randomBytes(2048)]);
      attempted.push(fresh);
      await pushImage(berth.url, fresh, 'put');
      complete.push(fresh);
      const get = served(berth.url);
      for (const img of [...unfinished, fresh]) await assertImageIntact(get, img, 'tag');
      assert.ok((await listTags(berth.url, fresh.repo)).tags.includes('latest'));
    });
  }
});

/** The same path and query on the restarted server (which listens on a new port). */
function rebase(url: string, base: string): string {
  const u = new URL(url);
  return new URL(u.pathname + u.search, base).toString();
}

/** A server's manifests and blobs by GET, each fetched once however often it is asked for. */
interface Served {
  manifest(repo: string, ref: string): Promise<Fetched>;
  blob(repo: string, digest: string): Promise<Fetched>;
}

function served(base: string): Served {
  const fetched = new Map<string, Promise<Fetched>>();
  const once = (key: string, get: () => Promise<Fetched>) => {
    let answer = fetched.get(key);
    if (!answer) fetched.set(key, (answer = get()));
    return answer;
  };
  return {
    manifest: (repo, ref) => once(`manifest ${repo} ${ref}`, () => getManifest(base, repo, ref)),
    blob: (repo, digest) => once(`blob ${repo} ${digest}`, () => getBlob(base, repo, digest)),
  };
}

/** The image GETs by tag (or digest) byte-exact, and all of its blobs GET byte-exact. */
async function assertImageIntact(get: Served, img: TestImage, by: 'tag' | 'digest'): Promise<void> {
  const m = await get.manifest(img.repo, by === 'tag' ? img.tag : img.digest);
  assert.equal(m.status, 200, `GET ${img.repo} manifest by ${by} (${img.tag}, ${img.digest})`);
  assert.equal(m.headers.get('docker-content-digest'), img.digest);
  assert.deepEqual(m.body, img.manifest);
  for (const [digest, data] of img.blobs) {
    const b = await get.blob(img.repo, digest);
    assert.equal(b.status, 200, `GET ${img.repo} blob ${digest} of a served manifest`);
    assert.equal(b.body.length, data.length);
    assert.ok(b.body.equals(data), `blob ${digest} is byte-exact`);
  }
}

/** Every blob a served manifest references is served and hashes to its digest. */
async function assertManifestComplete(get: Served, repo: string, body: Buffer): Promise<void> {
  const m = JSON.parse(body.toString()) as {
    config?: { digest: string };
    layers?: { digest: string }[];
    manifests?: { digest: string }[];
  };
  for (const { digest } of [...(m.config ? [m.config] : []), ...(m.layers ?? [])]) {
    const b = await get.blob(repo, digest);
    assert.equal(b.status, 200, `${repo} serves a manifest referencing ${digest}, which must GET`);
    assert.equal(sha256(b.body), digest);
  }
  for (const { digest } of m.manifests ?? []) {
    const child = await get.manifest(repo, digest);
    assert.equal(child.status, 200, `${repo} serves an index referencing ${digest}, which must GET`);
    await assertManifestComplete(get, repo, child.body);
  }
}
