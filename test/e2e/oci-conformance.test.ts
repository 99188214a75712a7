/**
 * The OCI distribution-spec conformance suite's four workflows (v1.1, `conformance/0[1-4]_*.go`),
 * request by request and in its order, against a real Berth: Pull, Push, Content Discovery,
 * Content Management, each with its setup and teardown (manifests deleted before blobs, the
 * suite's default), all in one namespace plus a cross-mount namespace nobody created. The client
 * sends every request without credentials first and, challenged, sends it again with the user and
 * password, as the suite's client (reggie) does with OCI_USERNAME and OCI_PASSWORD: so every
 * PATCH and PUT reaches Berth twice, once refused. Each `it` names the suite's
 * spec it reproduces; assertions are the suite's, plus what the spec text requires beside them.
 * The checks the suite's newer runner (distribution-spec main) adds are in
 * oci-conformance-main.test.ts. One file over 400 lines: the four workflows run in order on one
 * namespace, each building on what the one before left, as the suite's do.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { startBerth, type BerthProcess } from './helpers/berth-process.js';
import { SuiteClient } from './helpers/conformance-client.js';
import { ANNOTATION_KEY, ARTIFACT_A, MT, v11Data } from './helpers/conformance-v11-data.js';
import { errorCode, type Fetched } from './helpers/registry-http.js';

const NAME = 'conformance/distribution-test';
const CROSS = `conformance-${randomUUID()}`;
const TAG = 'tagtest0';
const ERROR_CODES = [
  'BLOB_UNKNOWN',
  'BLOB_UPLOAD_INVALID',
  'BLOB_UPLOAD_UNKNOWN',
  'DIGEST_INVALID',
  'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN',
  'MANIFEST_UNVERIFIED',
  'NAME_INVALID',
  'NAME_UNKNOWN',
  'SIZE_INVALID',
  'TAG_INVALID',
  'UNAUTHORIZED',
  'DENIED',
  'UNSUPPORTED',
];

const is2xx = (r: Fetched) => r.status >= 200 && r.status < 300;
const show = (r: Fetched) => `${r.status} ${r.body.toString().slice(0, 300)}`;
interface Index {
  mediaType?: string;
  schemaVersion?: number;
  manifests: Array<{ digest: string; mediaType: string; artifactType?: string; annotations?: Record<string, string> }>;
}

describe('OCI conformance suite, v1.1 workflows', () => {
  let berth: BerthProcess;
  let c: SuiteClient;
  const d = v11Data();
  const blobs = (name = NAME) => `/v2/${name}/blobs/`;
  const manifests = `/v2/${NAME}/manifests/`;

  before(async () => {
    berth = await startBerth();
    const [user, pass] = Buffer.from(berth.authorization.replace(/^Basic /, ''), 'base64')
      .toString()
      .split(/:(.*)/s) as [string, string];
    c = new SuiteClient(berth.url, user, pass, { cacheAuth: false });
  });
  after(() => berth?.cleanup());

  /** "Populate registry with test blob": POST, then PUT ?digest= with the body. */
  async function populateBlob(content: Buffer, digest: string): Promise<Fetched> {
    const post = await c.do('POST', `${blobs()}uploads/`);
    assert.equal(post.status, 202, show(post));
    return c.do('PUT', post.headers.get('location')!, {
      query: { digest },
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(content.length) },
      body: content,
    });
  }
  const putManifest = (ref: string, content: Buffer, type: string = MT.manifest) =>
    c.do('PUT', `${manifests}${ref}`, { headers: { 'Content-Type': type }, body: content });
  const accept = { Accept: MT.manifest };

  it('authenticates as the suite does: a Bearer challenge on the first request, then a token for the user and password', async () => {
    const r = await c.do('GET', '/v2/');
    assert.equal(r.status, 200);
    assert.match(c.challenges[0] ?? '', /^Bearer realm="http:\/\/.+\/token",service="/);
    await c.do('GET', '/v2/');
    assert.equal(c.challenges.length, 2, 'no credentials are kept between requests');
  });

  describe('Pull', () => {
    it('Setup: populates two configs and the layer, manifest[0] by tag and manifest[1] by digest', async () => {
      for (const b of [d.configs[0]!, d.configs[1]!, d.layer]) assert.ok(is2xx(await populateBlob(b.content, b.digest)));
      const byTag = await putManifest(TAG, d.manifests[0]!.content);
      assert.ok(is2xx(byTag), show(byTag));
      const byDigest = await putManifest(d.manifests[1]!.digest, d.manifests[1]!.content);
      assert.ok(is2xx(byDigest), show(byDigest));
    });

    it('Pull blobs: HEAD and GET are 404 for a missing blob, 200 with the digest for an existing one', async () => {
      assert.equal((await c.do('HEAD', `${blobs()}${d.dummyDigest}`)).status, 404);
      const head = await c.do('HEAD', `${blobs()}${d.configs[0]!.digest}`);
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('docker-content-digest'), d.configs[0]!.digest);
      assert.equal((await c.do('GET', `${blobs()}${d.dummyDigest}`)).status, 404);
      const get = await c.do('GET', `${blobs()}${d.configs[0]!.digest}`);
      assert.equal(get.status, 200);
      assert.deepEqual(get.body, d.configs[0]!.content);
    });

    it('Pull manifests: a missing name is 404; HEAD and GET by both digests and by tag are 200', async () => {
      for (const method of ['HEAD', 'GET']) {
        assert.equal((await c.do(method, `${manifests}.INVALID_MANIFEST_NAME`)).status, 404, method);
        for (const [ref, m] of [
          [d.manifests[0]!.digest, d.manifests[0]!],
          [d.manifests[1]!.digest, d.manifests[1]!],
          [TAG, d.manifests[0]!],
        ] as const) {
          const r = await c.do(method, `${manifests}${ref}`, { headers: accept });
          assert.equal(r.status, 200, `${method} ${ref}: ${show(r)}`);
          assert.equal(r.headers.get('docker-content-digest'), m.digest);
          if (method === 'GET') assert.deepEqual(r.body, m.content, 'the bytes pushed, unknown fields and all');
        }
      }
    });

    it('Error codes: a GET of sha256:totallywrong is 400 with a spec error code (or 404)', async () => {
      const r = await c.do('GET', `${manifests}sha256:totallywrong`, { headers: { 'Content-Type': MT.manifest }, body: Buffer.from('blablabla') });
      assert.ok([400, 404].includes(r.status), show(r));
      if (r.status === 400) assert.ok(ERROR_CODES.includes(errorCode(r) ?? ''), show(r));
    });

    it('Teardown: deletes both manifests (2xx), then the configs and the layer (2xx)', async () => {
      for (const m of [d.manifests[0]!, d.manifests[1]!]) {
        const r = await c.do('DELETE', `${manifests}${m.digest}`);
        assert.ok(is2xx(r), show(r));
      }
      for (const b of [d.configs[0]!, d.configs[1]!, d.layer]) {
        const r = await c.do('DELETE', `${blobs()}${b.digest}`);
        assert.ok(is2xx(r), show(r));
      }
    });
  });

  describe('Push', () => {
    let last: Fetched;
    let prev: Fetched;

    it('Blob Upload Streamed: PATCH with the blob is 202; PUT ?digest= without a body is 201 with a Location', async () => {
      const post = await c.do('POST', `${blobs()}uploads/`);
      assert.ok(post.headers.get('location'));
      const patch = await c.do('PATCH', post.headers.get('location')!, { headers: { 'Content-Type': 'application/octet-stream' }, body: d.blobA.content });
      assert.equal(patch.status, 202, show(patch));
      // The suite sets Content-Length to the blob's length but sends no body; Go sends 0.
      const put = await c.do('PUT', patch.headers.get('location')!, {
        query: { digest: d.blobA.digest },
        headers: { 'Content-Type': 'application/octet-stream' },
      });
      assert.equal(put.status, 201, show(put));
      assert.ok(put.headers.get('location'));
    });

    it('Blob Upload Monolithic: POST ?digest= with the body is 201, and the blob is then there', async () => {
      const c1 = d.configs[1]!;
      assert.equal((await c.do('GET', `${blobs()}${d.dummyDigest}`)).status, 404);
      const post = await c.do('POST', `${blobs()}uploads/`, {
        query: { digest: c1.digest },
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(c1.content.length) },
        body: c1.content,
      });
      assert.ok(post.headers.get('location'));
      assert.equal(post.status, 201, show(post));
      assert.equal((await c.do('GET', `${blobs()}${c1.digest}`)).status, 200);
    });

    it('Blob Upload Monolithic: POST gives a session; PUT of the config, then of the layer, is 201; both read back', async () => {
      for (const b of [d.configs[1]!, d.layer]) {
        const post = await c.do('POST', `${blobs()}uploads/`);
        assert.equal(post.status, 202);
        const put = await c.do('PUT', post.headers.get('location')!, {
          query: { digest: b.digest },
          headers: { 'Content-Type': 'application/octet-stream' },
          body: b.content,
        });
        assert.equal(put.status, 201, show(put));
        assert.ok(put.headers.get('location'));
        assert.equal((await c.do('GET', `${blobs()}${b.digest}`)).status, 200);
      }
    });

    it('Blob Upload Chunked: an out-of-order chunk is 416', async () => {
      const post = await c.do('POST', `${blobs()}uploads/`, { headers: { 'Content-Length': '0' } });
      assert.ok(post.headers.get('location'));
      // A minimum chunk length above the suite's 22 bytes would make it rebuild its blob.
      assert.equal(post.headers.get('oci-chunk-min-length'), null);
      const r = await c.do('PATCH', post.headers.get('location')!, {
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '22-41' },
        body: d.chunk2,
      });
      assert.equal(r.status, 416, show(r));
    });

    it('Blob Upload Chunked: the first chunk is 202 with Range 0-21; a retry of it is 416; GET of the session is 204', async () => {
      prev = await c.do('POST', `${blobs()}uploads/`, { headers: { 'Content-Length': '0' } });
      const first = await c.do('PATCH', prev.headers.get('location')!, {
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '0-21' },
        body: d.chunk1,
      });
      assert.equal(first.status, 202, show(first));
      assert.equal(first.headers.get('range'), '0-21');
      const retry = await c.do('PATCH', prev.headers.get('location')!, {
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '0-21' },
        body: d.chunk1,
      });
      assert.equal(retry.status, 416, show(retry));
      last = await c.do('GET', prev.headers.get('location')!);
      assert.equal(last.status, 204, show(last));
      assert.ok(last.headers.get('location'));
      assert.equal(last.headers.get('range'), '0-21');
    });

    it('Blob Upload Chunked: the second chunk is 202; PUT ?digest= with no body is 201', async () => {
      const second = await c.do('PATCH', last.headers.get('location')!, {
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '22-41' },
        body: d.chunk2,
      });
      assert.equal(second.status, 202, show(second));
      assert.ok(second.headers.get('location'));
      const put = await c.do('PUT', second.headers.get('location')!, {
        query: { digest: d.blobB.digest },
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': '0' },
      });
      assert.equal(put.status, 201, show(put));
      assert.ok(put.headers.get('location'));
      assert.deepEqual((await c.do('GET', `${blobs()}${d.blobB.digest}`)).body, d.blobB.content);
    });

    it('Cross-Repository Blob Mount: a mount without from of an unknown blob is a session (202) in the new namespace', async () => {
      const r = await c.do('POST', `${blobs(CROSS)}uploads/`, { query: { mount: d.dummyDigest } });
      assert.equal(r.status, 202, show(r));
      assert.ok(r.headers.get('location'));
    });

    it('Cross-Repository Blob Mount: mounting from the namespace is 201 at /v2/<cross>/blobs/<digest>, which reads 200', async () => {
      const r = await c.do('POST', `${blobs(CROSS)}uploads/`, { query: { mount: d.blobA.digest, from: NAME } });
      assert.equal(r.status, 201, show(r));
      const location = new URL(r.headers.get('location')!, berth.url);
      assert.equal(location.pathname, `/v2/${CROSS}/blobs/${d.blobA.digest}`);
      assert.equal((await c.do('GET', location.pathname)).status, 200);
    });

    it('Cross-Repository Blob Mount (OCI_AUTOMATIC_CROSSMOUNT=1): a mount without from of a blob the caller can read is 201', async () => {
      const r = await c.do('POST', `${blobs(CROSS)}uploads/`, { query: { mount: d.blobA.digest } });
      assert.equal(r.status, 201, show(r));
    });

    it('Manifest Upload: a missing manifest is 404; PUT of manifest[1] as test0..test3 is 201 with a Location each', async () => {
      assert.equal((await c.do('GET', `${manifests}.INVALID_MANIFEST_NAME`)).status, 404);
      for (let i = 0; i < 4; i++) {
        const r = await putManifest(`test${i}`, d.manifests[1]!.content);
        assert.equal(r.status, 201, show(r));
        assert.ok(r.headers.get('location'));
      }
    });

    it('Manifest Upload: a manifest with no layers (and no mediaType) is accepted, 201 with a Location', async () => {
      const r = await putManifest('emptylayer', d.emptyLayer.content);
      assert.equal(r.status, 201, show(r));
      assert.ok(r.headers.get('location'));
      const get = await c.do('GET', `${manifests}${d.manifests[1]!.digest}`, { headers: accept });
      assert.equal(get.status, 200);
      const back = await c.do('GET', `${manifests}emptylayer`, { headers: accept });
      assert.equal(back.status, 200, show(back));
      assert.deepEqual(back.body, d.emptyLayer.content);
      assert.equal(back.headers.get('content-type'), MT.manifest, 'the Content-Type it was pushed with');
    });

    it('Teardown: deletes manifest[1] and the no-layer manifest (2xx), then the config and layer blobs', async () => {
      for (const digest of [d.manifests[1]!.digest, d.emptyLayer.digest]) {
        const r = await c.do('DELETE', `${manifests}${digest}`);
        assert.ok(is2xx(r), show(r));
      }
      for (const b of [d.configs[1]!, d.layer]) {
        const r = await c.do('DELETE', `${blobs()}${b.digest}`);
        assert.ok(is2xx(r) || r.status === 404, show(r));
      }
    });
  });

  describe('Content Discovery', () => {
    let tagList: string[] = [];
    const subject = d.manifests[4]!.digest;

    it('Setup: populates config[2], the layer and manifest[2] as test0..test3', async () => {
      for (const b of [d.configs[2]!, d.layer]) assert.ok(is2xx(await populateBlob(b.content, b.digest)));
      for (let i = 0; i < 4; i++) assert.ok(is2xx(await putManifest(`test${i}`, d.manifests[2]!.content)));
    });

    it('References setup: every referrer, pushed before and after its subject, answers OCI-Subject', async () => {
      for (const b of [d.emptyJson, d.refBlobA]) assert.ok(is2xx(await populateBlob(b.content, b.digest)));
      for (const [m, type] of [
        [d.aConfig, MT.manifest],
        [d.aLayer, MT.manifest],
        [d.refIndex, MT.index],
      ] as const) {
        const r = await putManifest(m.digest, m.content, type);
        assert.ok(is2xx(r), show(r));
        assert.equal(r.headers.get('oci-subject'), subject);
      }
      for (const b of [d.configs[4]!, d.layer]) assert.ok(is2xx(await populateBlob(b.content, b.digest)));
      assert.ok(is2xx(await putManifest(TAG, d.manifests[4]!.content)));
      assert.ok(is2xx(await populateBlob(d.refBlobB.content, d.refBlobB.digest)));
      for (const m of [d.bConfig, d.bLayer]) {
        const r = await putManifest(m.digest, m.content);
        assert.ok(is2xx(r), show(r));
        assert.equal(r.headers.get('oci-subject'), subject);
      }
      const c3 = await putManifest(d.cLayer.digest, d.cLayer.content);
      assert.ok(is2xx(c3), show(c3));
      assert.equal(c3.headers.get('oci-subject'), d.manifests[3]!.digest);
    });

    it('listing tags: 200; `n` limits the count exactly; `last` starts after the tag named', async () => {
      const all = await c.do('GET', `/v2/${NAME}/tags/list`);
      assert.equal(all.status, 200);
      tagList = (JSON.parse(all.body.toString()) as { tags: string[] }).tags;
      assert.deepEqual(tagList, ['tagtest0', 'test0', 'test1', 'test2', 'test3']);
      const half = Math.floor(tagList.length / 2);
      const page = await c.do('GET', `/v2/${NAME}/tags/list`, { query: { n: String(half) } });
      assert.equal(page.status, 200);
      const first = (JSON.parse(page.body.toString()) as { tags: string[] }).tags;
      assert.equal(first.length, half);
      const next = await c.do('GET', `/v2/${NAME}/tags/list`, { query: { n: String(half), last: first[half - 1]! } });
      assert.equal(next.status, 200);
      assert.deepEqual((JSON.parse(next.body.toString()) as { tags: string[] }).tags, tagList.slice(half, half * 2));
    });

    const referrers = async (digest: string, query?: Record<string, string>) => {
      const r = await c.do('GET', `/v2/${NAME}/referrers/${digest}`, query ? { query } : {});
      assert.equal(r.status, 200, show(r));
      assert.equal(r.headers.get('content-type'), MT.index);
      return { r, index: JSON.parse(r.body.toString()) as Index };
    };

    it('listing references: an unknown subject is an empty index', async () => {
      const { index } = await referrers(d.dummyDigest);
      assert.deepEqual(index.manifests, []);
    });

    it('listing references: the subject has its five referrers, each with its one annotation', async () => {
      const { index } = await referrers(subject);
      assert.equal(index.manifests.length, 5);
      assert.notEqual(index.manifests[0]!.digest, index.manifests[1]!.digest);
      for (const m of index.manifests) {
        assert.deepEqual(m.annotations, { [ANNOTATION_KEY]: d.annotations.get(m.digest) });
      }
    });

    it('listing references with an artifactType filter: OCI-Filters-Applied and exactly the two of that type', async () => {
      const { r, index } = await referrers(subject, { artifactType: ARTIFACT_A });
      assert.equal(r.headers.get('oci-filters-applied'), 'artifactType');
      assert.deepEqual(index.manifests.map((m) => m.digest).sort(), [d.aConfig.digest, d.aLayer.digest].sort());
      for (const m of index.manifests) assert.equal(m.artifactType, ARTIFACT_A);
    });

    it('listing references of a manifest never pushed: its one referrer', async () => {
      const { index } = await referrers(d.manifests[3]!.digest);
      assert.deepEqual(
        index.manifests.map((m) => m.digest),
        [d.cLayer.digest],
      );
    });

    it('Teardown: deletes every manifest and the tag (2xx or 404), then the config and layer blobs (2xx)', async () => {
      for (const ref of [
        d.refIndex.digest,
        d.manifests[2]!.digest,
        subject,
        d.aConfig.digest,
        d.aLayer.digest,
        TAG,
        d.bConfig.digest,
        d.bLayer.digest,
        d.cLayer.digest,
      ]) {
        const r = await c.do('DELETE', `${manifests}${ref}`);
        assert.ok(is2xx(r) || r.status === 404, `${ref}: ${show(r)}`);
      }
      for (const b of [d.configs[2]!, d.layer]) {
        const r = await c.do('DELETE', `${blobs()}${b.digest}`);
        assert.ok(is2xx(r), show(r));
      }
    });

    it('References teardown: deletes the rest (2xx or 404)', async () => {
      for (const b of [d.configs[4]!, d.refBlobA, d.refBlobB, d.emptyJson]) {
        const r = await c.do('DELETE', `${blobs()}${b.digest}`);
        assert.ok(is2xx(r) || r.status === 404, show(r));
      }
    });
  });

  describe('Content Management', () => {
    let numTags = 0;
    const tags = async () => {
      const r = await c.do('GET', `/v2/${NAME}/tags/list`);
      assert.equal(r.status, 200, show(r));
      return (JSON.parse(r.body.toString()) as { tags: string[] | null }).tags ?? [];
    };

    it('Setup: populates config[3], the layer and manifest[3] as tagtest0; counts the tags', async () => {
      for (const b of [d.configs[3]!, d.layer]) assert.ok(is2xx(await populateBlob(b.content, b.digest)));
      assert.ok(is2xx(await putManifest(TAG, d.manifests[3]!.content)));
      numTags = (await tags()).length;
      assert.equal(numTags, 1);
    });

    it('Manifest delete: DELETE of the tag is 202; of the manifest by digest 202; the manifest is then 404', async () => {
      const byTag = await c.do('DELETE', `${manifests}${TAG}`);
      assert.equal(byTag.status, 202, show(byTag));
      assert.equal((await c.do('GET', `${manifests}${d.manifests[3]!.digest}`, { headers: accept })).status, 200, 'a tag delete leaves the manifest');
      const byDigest = await c.do('DELETE', `${manifests}${d.manifests[3]!.digest}`);
      assert.equal(byDigest.status, 202, show(byDigest));
      assert.equal((await c.do('GET', `${manifests}${d.manifests[3]!.digest}`, { headers: accept })).status, 404);
    });

    it('Manifest delete: the tag list reflects the deletion (200, fewer tags)', async () => {
      assert.ok((await tags()).length < numTags);
    });

    it('Blob delete: DELETE of the config and the layer is 202; the config is then 404', async () => {
      for (const b of [d.configs[3]!, d.layer]) {
        const r = await c.do('DELETE', `${blobs()}${b.digest}`);
        assert.equal(r.status, 202, show(r));
      }
      assert.equal((await c.do('GET', `${blobs()}${d.configs[3]!.digest}`)).status, 404);
    });
  });
});
