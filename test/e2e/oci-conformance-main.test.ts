/**
 * What the OCI conformance suite's newer runner (distribution-spec main, `conformance/run.go`,
 * `api.go`, `testdata.go`; it replaced the v1.1 Ginkgo workflows, which
 * oci-conformance.test.ts reproduces) checks, in its order, against a real Berth: ping; an empty
 * repository's tag list and referrers; every blob push API for sha256 and then sha512 (POST
 * only, POST+PUT, streamed, chunked with 1 KiB chunks, in order and out of order, the last chunk
 * in the PUT or not, mounts from a repository, without `from`, of a missing blob, cancel), each
 * followed by HEAD, GET and DELETE-then-404; range reads; the empty blob and `{}`; bad digests by
 * every API; then each data set (images, indexes, nested and empty indexes, artifacts, referrers
 * with present and missing subjects, `data` fields, non-distributable layers, unknown fields, no
 * layers, a 3.9 MB manifest, sha512 manifests, a body that does not match its digest) pushed,
 * listed, HEAD and GET by tag and digest, its referrers listed and filtered, and deleted; and the
 * manifest error cases. The client caches its login as the runner does (CacheAuth).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startBerth, type BerthProcess } from './helpers/berth-process.js';
import { digestOf, SuiteClient } from './helpers/conformance-client.js';
import { Checks, MANIFEST_ACCEPT, subjectOf } from './helpers/conformance-main-checks.js';
import { mainDataSets, type TestData } from './helpers/conformance-main-data.js';

const REPO = 'conformance/repo1';
const REPO2 = 'conformance/repo2';

describe('OCI conformance suite, main runner', () => {
  let berth: BerthProcess;
  let c: SuiteClient;
  const checks = () => new Checks(c);

  before(async () => {
    berth = await startBerth();
    const [user, pass] = Buffer.from(berth.authorization.replace(/^Basic /, ''), 'base64')
      .toString()
      .split(/:(.*)/s) as [string, string];
    c = new SuiteClient(berth.url, user, pass);
  });
  after(() => berth?.cleanup());

  it('ping, and an empty repository: its tag list (200 or 404) and the referrers of anything (an empty index)', async () => {
    assert.equal((await c.do('GET', '/v2/')).status, 200);
    const tags = await c.do('GET', `/v2/${REPO}/tags/list`);
    assert.ok([200, 404].includes(tags.status), String(tags.status));
    const refs = await c.do('GET', `/v2/${REPO}/referrers/${digestOf(randomBytes(16))}`);
    assert.equal(refs.status, 200);
    assert.equal(refs.headers.get('content-type'), 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(JSON.parse(refs.body.toString()), { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] });
  });

  for (const algo of ['sha256', 'sha512'] as const) {
    describe(`${algo} blobs`, () => {
      const blob = (size = 512) => {
        const body = randomBytes(size);
        return { body, digest: digestOf(body, algo) };
      };
      /** Each API's test: push, then HEAD and GET, then delete (and from repo2 after a mount). */
      const apis: Array<[string, (k: Checks, b: { body: Buffer; digest: string }) => Promise<void>, boolean?]> = [
        ['post only', (k, b) => k.postOnly(REPO, b.digest, b.body)],
        ['post+put', (k, b) => k.postPut(REPO, b.digest, b.body)],
        ['chunked single', (k, b) => k.chunked(REPO, b.digest, b.body)],
        ['stream', (k, b) => k.stream(REPO, b.digest, b.body)],
        [
          'mount',
          async (k, b) => {
            await k.postPut(REPO2, b.digest, b.body);
            await k.mount(REPO, REPO2, b.digest, b.body);
          },
          true,
        ],
        [
          'mount anonymous',
          async (k, b) => {
            await k.postPut(REPO2, b.digest, b.body);
            await k.mount(REPO, undefined, b.digest, b.body);
          },
          true,
        ],
        ['mount missing', (k, b) => k.mount(REPO, REPO2, b.digest, b.body, false)],
        ['chunked multi', (k, b) => k.chunked(REPO, b.digest, b.body)],
        ['chunked multi and put chunk', (k, b) => k.chunked(REPO, b.digest, b.body, { putLast: true })],
        ['chunked out-of-order', (k, b) => k.chunked(REPO, b.digest, b.body, { outOfOrder: true })],
        ['chunked out-of-order and put chunk', (k, b) => k.chunked(REPO, b.digest, b.body, { outOfOrder: true, putLast: true })],
      ];
      for (const [name, push, mounted] of apis) {
        it(`${name}: pushed, then HEAD, GET, DELETE and a HEAD of 404`, async () => {
          const k = checks();
          const b = blob(name.startsWith('chunked multi') || name.startsWith('chunked out') ? 1024 * 3 - 5 : 512);
          await push(k, b);
          await k.headBlob(REPO, b.digest, b.body);
          await k.getBlob(REPO, b.digest, b.body);
          await k.deleteBlob(REPO, b.digest);
          if (mounted) await k.deleteBlob(REPO2, b.digest);
          assert.deepEqual(k.problems, []);
        });
      }

      it('post cancel: DELETE of the session is 204, and the session is then gone', async () => {
        const k = checks();
        await k.cancel(REPO);
        assert.deepEqual(k.problems, []);
      });

      it('range requests: 206 with Content-Range for each form, 416 past the end or reversed', async () => {
        const k = checks();
        const b = blob(2048);
        await k.postPut(REPO, b.digest, b.body);
        const cases: Array<[string, number, number, number] | [string, 416]> = [
          ['bytes=500-1499', 206, 500, 1499],
          ['bytes=500-', 206, 500, 2047],
          ['bytes=-500', 206, 1548, 2047],
          ['bytes=2000-5000', 206, 2000, 2047],
          ['bytes=500-0', 416],
          ['bytes=5000-10000', 416],
        ];
        for (const [range, status, from, to] of cases) {
          const r = await c.do('GET', `/v2/${REPO}/blobs/${b.digest}`, { headers: { Range: range } });
          if (!k.status(range, r, status)) continue;
          if (status === 416 || from === undefined || to === undefined) continue;
          k.expect(`${range}: the bytes`, r.body.equals(b.body.subarray(from, to + 1)));
          k.header(range, r, 'content-length', String(to - from + 1));
          k.header(range, r, 'content-range', `bytes ${from}-${to}/2048`);
        }
        await k.deleteBlob(REPO, b.digest);
        assert.deepEqual(k.problems, []);
      });

      for (const [name, body] of [
        ['empty', Buffer.alloc(0)],
        ['emptyJSON', Buffer.from('{}')],
      ] as const) {
        it(`well-known blob ${name}: pushed, HEAD (Content-Length ${body.length}), GET, DELETE`, async () => {
          const k = checks();
          const digest = digestOf(body, algo);
          await k.postPut(REPO, digest, body);
          await k.headBlob(REPO, digest, body);
          await k.getBlob(REPO, digest, body);
          await k.deleteBlob(REPO, digest);
          assert.deepEqual(k.problems, []);
        });
      }

      it('bad digests: every push API refuses bytes that do not match with 400, and stores nothing', async () => {
        const k = checks();
        const pushes: Array<(d: string, b: Buffer) => Promise<unknown>> = [
          (d, b) => k.postOnly(REPO, d, b, true),
          (d, b) => k.postPut(REPO, d, b, true),
          (d, b) => k.chunked(REPO, d, b, { bad: true }),
          (d, b) => k.chunked(REPO, d, b, { bad: true, putLast: true }),
          (d, b) => k.stream(REPO, d, b, true),
        ];
        for (const push of pushes) {
          const b = blob(1024 * 3 - 5);
          await push(b.digest, Buffer.concat([b.body, Buffer.from('oh no')]));
          k.status('after a refused push, HEAD', await c.do('HEAD', `/v2/${REPO}/blobs/${b.digest}`), 404);
        }
        assert.deepEqual(k.problems, []);
      });
    });
  }

  describe('data sets', () => {
    for (const td of mainDataSets()) {
      it(`${td.name}: pushed, listed, HEAD and GET by tag and digest, referrers, deleted`, async () => {
        const k = checks();
        await pushSet(k, td);
        await listSet(k, td);
        for (const method of ['HEAD', 'GET'] as const) {
          for (const [tag, digest] of td.tags) await k.readManifest(method, REPO, tag, digest, td.manifests.get(digest)!);
          for (const digest of td.manOrder) await k.readManifest(method, REPO, digest, digest, td.manifests.get(digest)!);
        }
        for (const [digest, body] of td.blobs) {
          await k.headBlob(REPO, digest, body);
          await k.getBlob(REPO, digest, body);
        }
        await referrersOfSet(k, td);
        await deleteSet(k, td);
        assert.deepEqual(k.problems, []);
      });
    }

    it('bad-digest-image: a manifest whose bytes do not match the digest it is put by is 400, and is not stored', async () => {
      const k = checks();
      const [td] = mainDataSets().filter((s) => s.name === 'image');
      const digest = td!.manOrder[0]!;
      let i = 0;
      for (const [d, b] of td!.blobs) await (i++ % 2 ? k.postOnly(REPO, d, b) : k.postPut(REPO, d, b));
      await k.putManifest(REPO, digest, digest, Buffer.concat([td!.manifests.get(digest)!, Buffer.from('  ')]), { bad: true });
      k.status('HEAD of the refused manifest', await c.do('HEAD', `/v2/${REPO}/manifests/${digest}`, { headers: { Accept: MANIFEST_ACCEPT } }), 404);
      for (const d of td!.blobs.keys()) await k.deleteBlob(REPO, d);
      assert.deepEqual(k.problems, []);
    });
  });

  it('manifest errors: missing by digest and by tag are 404; a PUT to sha256:baddigeststring is 400, its GET 400 or 404', async () => {
    const k = checks();
    k.status('GET a random digest', await c.do('GET', `/v2/${REPO}/manifests/${digestOf(randomBytes(1024))}`, { headers: { Accept: MANIFEST_ACCEPT } }), 404);
    k.status(
      'GET a missing tag',
      await c.do('GET', `/v2/${REPO}/manifests/missing-${randomBytes(10).toString('hex')}`, { headers: { Accept: MANIFEST_ACCEPT } }),
      404,
    );
    const [td] = mainDataSets().filter((s) => s.name === 'image');
    for (const [d, b] of td!.blobs) await k.postPut(REPO, d, b);
    const digest = td!.manOrder[0]!;
    await k.putManifest(REPO, 'sha256:baddigeststring', digest, td!.manifests.get(digest)!, { bad: true });
    k.status(
      'GET sha256:baddigeststring',
      await c.do('GET', `/v2/${REPO}/manifests/sha256:baddigeststring`, { headers: { Accept: MANIFEST_ACCEPT } }),
      400,
      404,
    );
    await k.deleteManifest(REPO, digest);
    for (const d of td!.blobs.keys()) await k.deleteBlob(REPO, d);
    assert.deepEqual(k.problems, []);
  });

  /** TestPush: the blobs (through each push API in turn), the manifests by digest in order, then the tags. */
  async function pushSet(k: Checks, td: TestData): Promise<void> {
    const apis = [
      (d: string, b: Buffer) => k.postPut(REPO, d, b),
      (d: string, b: Buffer) => k.postOnly(REPO, d, b),
      (d: string, b: Buffer) => k.stream(REPO, d, b),
      (d: string, b: Buffer) => k.chunked(REPO, d, b),
    ];
    let i = 0;
    for (const [digest, body] of td.blobs) await apis[i++ % apis.length]!(digest, body);
    for (const digest of td.manOrder) {
      const body = td.manifests.get(digest)!;
      const subject = subjectOf(body);
      const tags = td.tagParams ? [...td.tags].filter(([, d]) => d === digest).map(([t]) => t) : [];
      await k.putManifest(REPO, digest, digest, body, { ...(subject && { subject }), tags });
    }
    if (td.byDigestOnly || td.tagParams) return;
    for (const [tag, digest] of td.tags) {
      const body = td.manifests.get(digest)!;
      const subject = subjectOf(body);
      await k.putManifest(REPO, tag, digest, body, subject ? { subject } : {});
    }
  }

  /** TestList: every tag listed; `last` at the middle of the sorted list splits it there. */
  async function listSet(k: Checks, td: TestData): Promise<void> {
    const r = await c.do('GET', `/v2/${REPO}/tags/list`);
    if (!k.status('tag list', r, 200)) return;
    const tags = (JSON.parse(r.body.toString()) as { tags: string[] }).tags ?? [];
    if (!td.byDigestOnly) for (const tag of td.tags.keys()) k.expect(`tag list has ${tag}`, tags.includes(tag));
    if (tags.length < 2) return;
    const sorted = [...tags].sort();
    const end = Math.floor(sorted.length / 2);
    const rest = await c.do('GET', `/v2/${REPO}/tags/list`, { query: { last: sorted[end - 1]! } });
    if (!k.status('tag list ?last=', rest, 200)) return;
    const after = (JSON.parse(rest.body.toString()) as { tags: string[] }).tags ?? [];
    k.expect(`tag list after ${sorted[end - 1]} is ${sorted.slice(end).join(',')}, got ${after.join(',')}`, after.join() === sorted.slice(end).join());
  }

  /** TestReferrers: each subject's referrers listed, then filtered by each artifactType with OCI-Filters-Applied. */
  async function referrersOfSet(k: Checks, td: TestData): Promise<void> {
    for (const [subject, goals] of td.referrers) {
      const list = async (artifactType?: string) => {
        const r = await c.do('GET', `/v2/${REPO}/referrers/${subject}`, artifactType ? { query: { artifactType } } : {});
        if (!k.status(`referrers of ${subject.slice(0, 15)}`, r, 200)) return undefined;
        k.header('referrers', r, 'content-type', 'application/vnd.oci.image.index.v1+json');
        const index = JSON.parse(r.body.toString()) as { mediaType?: string; schemaVersion?: number; manifests: Array<Record<string, unknown>> };
        k.expect('referrers: an OCI index', index.mediaType === 'application/vnd.oci.image.index.v1+json' && index.schemaVersion === 2);
        return { r, index };
      };
      const has = (manifests: Array<Record<string, unknown>>, goal: (typeof goals)[number]) =>
        manifests.some(
          (m) =>
            m.digest === goal.digest &&
            m.mediaType === goal.mediaType &&
            m.size === goal.size &&
            (m.artifactType ?? '') === (goal.artifactType ?? '') &&
            Object.entries(goal.annotations ?? {}).every(([key, v]) => (m.annotations as Record<string, string> | undefined)?.[key] === v),
        );
      const all = await list();
      if (all)
        for (const goal of goals) k.expect(`referrer ${goal.digest.slice(0, 15)} of ${subject.slice(0, 15)} listed as pushed`, has(all.index.manifests, goal));
      for (const type of new Set(goals.map((g) => g.artifactType ?? ''))) {
        const filtered = await list(type);
        if (!filtered) continue;
        k.expect(`referrers ?artifactType=${type}: OCI-Filters-Applied`, (filtered.r.headers.get('oci-filters-applied') ?? '').includes('artifactType'));
        for (const goal of goals.filter((g) => (g.artifactType ?? '') === type))
          k.expect(`filtered referrer ${goal.digest.slice(0, 15)}`, has(filtered.index.manifests, goal));
        for (const m of filtered.index.manifests) k.expect(`only ${type} after the filter, got ${String(m.artifactType)}`, (m.artifactType ?? '') === type);
      }
    }
  }

  /** TestDelete: tags, then manifests in reverse push order, then blobs; each then reads 404. */
  async function deleteSet(k: Checks, td: TestData): Promise<void> {
    if (!td.byDigestOnly) for (const tag of td.tags.keys()) await k.deleteManifest(REPO, tag);
    for (const digest of [...td.manOrder].reverse()) await k.deleteManifest(REPO, digest);
    for (const digest of td.blobs.keys()) await k.deleteBlob(REPO, digest);
  }
});
