/**
 * The OCI distribution-spec over raw HTTP: every upload flavour, ranges, manifests, referrers,
 * listings, deletes, and one test per error code, each also checking that the refused request
 * changed nothing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';
import {
  asBody,
  catalog,
  errorCode,
  getBlob,
  getManifest,
  listTags,
  pushBlob,
  pushManifest,
  request,
  sha256,
  startUpload,
  uploadUrl,
} from '../e2e/helpers/registry-http.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

function imageManifest(config: Buffer, layers: Buffer[], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(l), size: l.length })),
      ...extra,
    }),
  );
}

describe('OCI distribution API', () => {
  let berth: BerthInProcess;
  let base: string;
  before(async () => {
    berth = await startInProcess({ env: { BERTH_MAX_UPLOAD_SESSIONS: '20' } });
    base = berth.url;
  });
  after(async () => berth?.cleanup());

  /** Pushes a small image and returns its parts. */
  async function image(repo: string, tag: string) {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', n: randomBytes(4).toString('hex') }));
    const layer = randomBytes(3000);
    assert.equal((await pushBlob(base, repo, config)).status, 201);
    assert.equal((await pushBlob(base, repo, layer, 'patch')).status, 201);
    const manifest = imageManifest(config, [layer]);
    const res = await pushManifest(base, repo, tag, manifest, OCI_MANIFEST);
    assert.equal(res.status, 201);
    return { config, layer, manifest, digest: sha256(manifest) };
  }

  it('answers GET /v2/ with the API version header', async () => {
    const r = await request(`${base}/v2/`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('docker-distribution-api-version'), 'registry/2.0');
  });

  it('uploads monolithically with POST ?digest=', async () => {
    const data = randomBytes(1000);
    const r = await request(`${base}/v2/up/mono/blobs/uploads/?digest=${sha256(data)}`, { method: 'POST', body: asBody(data) });
    assert.equal(r.status, 201);
    assert.equal(r.headers.get('docker-content-digest'), sha256(data));
    assert.equal(r.headers.get('location'), `/v2/up/mono/blobs/${sha256(data)}`);
    assert.deepEqual((await getBlob(base, 'up/mono', sha256(data))).body, data);
  });

  it('uploads in ordered chunks with Content-Range, reports status, and refuses an out-of-order chunk', async () => {
    const data = randomBytes(10_000);
    let url = await startUpload(base, 'up/chunks');
    for (const [start, end] of [
      [0, 3999],
      [4000, 7999],
    ] as const) {
      const r = await request(url, {
        method: 'PATCH',
        headers: { 'Content-Range': `${start}-${end}`, 'Content-Type': 'application/octet-stream' },
        body: asBody(data.subarray(start, end + 1)),
      });
      assert.equal(r.status, 202);
      assert.equal(r.headers.get('range'), `0-${end}`);
      url = uploadUrl(base, r.headers.get('location')!);
    }
    const status = await request(url);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), '0-7999');
    const outOfOrder = await request(url, { method: 'PATCH', headers: { 'Content-Range': '9000-9999' }, body: asBody(data.subarray(9000)) });
    assert.equal(outOfOrder.status, 416);
    const done = await request(uploadUrl(base, url, `digest=${sha256(data)}`), {
      method: 'PUT',
      headers: { 'Content-Range': '8000-9999', 'Content-Type': 'application/octet-stream' },
      body: asBody(data.subarray(8000)),
    });
    assert.equal(done.status, 201);
    assert.deepEqual((await getBlob(base, 'up/chunks', sha256(data))).body, data);
  });

  it('accepts sha512 digests', async () => {
    const data = randomBytes(500);
    const { createHash } = await import('node:crypto');
    const d512 = `sha512:${createHash('sha512').update(data).digest('hex')}`;
    const r = await request(`${base}/v2/up/sha512/blobs/uploads/?digest=${d512}`, { method: 'POST', body: asBody(data) });
    assert.equal(r.status, 201);
    assert.equal((await getBlob(base, 'up/sha512', d512, 'HEAD')).status, 200);
  });

  it('cancels an upload with DELETE', async () => {
    const url = await startUpload(base, 'up/cancel');
    assert.equal((await request(url, { method: 'DELETE' })).status, 204);
    const after = await request(url);
    assert.equal(after.status, 404);
    assert.equal(errorCode(after), 'BLOB_UPLOAD_UNKNOWN');
  });

  it('mounts across repositories with and without from, and falls back to an upload for unknown blobs', async () => {
    const data = randomBytes(2000);
    await pushBlob(base, 'mount/src', data);
    const withFrom = await request(`${base}/v2/mount/dst/blobs/uploads/?mount=${sha256(data)}&from=mount/src`, { method: 'POST' });
    assert.equal(withFrom.status, 201);
    const auto = await request(`${base}/v2/mount/auto/blobs/uploads/?mount=${sha256(data)}`, { method: 'POST' });
    assert.equal(auto.status, 201);
    assert.deepEqual((await getBlob(base, 'mount/auto', sha256(data))).body, data);
    const unknown = await request(`${base}/v2/mount/dst/blobs/uploads/?mount=${sha256('nothing')}&from=mount/src`, { method: 'POST' });
    assert.equal(unknown.status, 202);
  });

  it('serves ranges with 206 and refuses unsatisfiable ones with 416', async () => {
    const data = randomBytes(100);
    await pushBlob(base, 'ranges/r', data);
    const part = await request(`${base}/v2/ranges/r/blobs/${sha256(data)}`, { headers: { Range: 'bytes=10-19' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), 'bytes 10-19/100');
    assert.deepEqual(part.body, data.subarray(10, 20));
    const bad = await request(`${base}/v2/ranges/r/blobs/${sha256(data)}`, { headers: { Range: 'bytes=200-300' } });
    assert.equal(bad.status, 416);
    assert.equal(bad.headers.get('content-range'), 'bytes */100');
  });

  it('stores and serves manifests byte-exact, by tag and digest, with negotiation', async () => {
    const img = await image('man/app', 'v1');
    for (const ref of ['v1', img.digest]) {
      const r = await getManifest(base, 'man/app', ref);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, img.manifest);
      assert.equal(r.headers.get('content-type'), OCI_MANIFEST);
      assert.equal(r.headers.get('docker-content-digest'), img.digest);
    }
    const head = await getManifest(base, 'man/app', 'v1', 'HEAD');
    assert.equal(head.headers.get('content-length'), String(img.manifest.length));
    const refused = await request(`${base}/v2/man/app/manifests/v1`, { headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
    assert.equal(refused.status, 404);
    const byDigest = await pushManifest(base, 'man/app', img.digest, img.manifest, OCI_MANIFEST);
    assert.equal(byDigest.status, 201);
  });

  it('lists referrers with artifactType filtering, and an empty index for an unknown subject', async () => {
    const img = await image('ref/app', 'v1');
    const empty = Buffer.from('{}');
    await pushBlob(base, 'ref/app', empty);
    const emptyDesc = { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(empty), size: 2 };
    const subject = { mediaType: OCI_MANIFEST, digest: img.digest, size: img.manifest.length };
    const sig = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/x-sig', config: emptyDesc, layers: [emptyDesc], subject }),
    );
    const sbom = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: 'application/x-sbom',
        config: emptyDesc,
        layers: [emptyDesc],
        subject,
        annotations: { k: 'v' },
      }),
    );
    for (const m of [sig, sbom]) {
      const r = await pushManifest(base, 'ref/app', sha256(m), m, OCI_MANIFEST);
      assert.equal(r.status, 201);
      assert.equal(r.headers.get('oci-subject'), img.digest);
    }
    const all = await request(`${base}/v2/ref/app/referrers/${img.digest}`);
    assert.equal(all.headers.get('content-type'), OCI_INDEX);
    const index = JSON.parse(all.body.toString()) as { manifests: Array<{ digest: string; artifactType: string; annotations?: object }> };
    assert.deepEqual(index.manifests.map((m) => m.digest).sort(), [sha256(sig), sha256(sbom)].sort());
    const filtered = await request(`${base}/v2/ref/app/referrers/${img.digest}?artifactType=application/x-sbom`);
    assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
    const f = JSON.parse(filtered.body.toString()) as { manifests: Array<{ digest: string; annotations: object }> };
    assert.deepEqual(
      f.manifests.map((m) => m.digest),
      [sha256(sbom)],
    );
    assert.deepEqual(f.manifests[0]!.annotations, { k: 'v' });
    const none = await request(`${base}/v2/ref/app/referrers/${sha256('unknown')}`);
    assert.equal(none.status, 200);
    assert.deepEqual((JSON.parse(none.body.toString()) as { manifests: unknown[] }).manifests, []);
  });

  it('paginates tags and the catalog lexically with Link headers', async () => {
    const img = await image('list/app', 'c');
    for (const t of ['a', 'b', 'd', 'e']) assert.equal((await pushManifest(base, 'list/app', t, img.manifest, OCI_MANIFEST)).status, 201);
    const page = await request(`${base}/v2/list/app/tags/list?n=2&last=a`);
    assert.deepEqual(JSON.parse(page.body.toString()), { name: 'list/app', tags: ['b', 'c'] });
    assert.equal(page.headers.get('link'), '</v2/list/app/tags/list?n=2&last=c>; rel="next"');
    assert.deepEqual((await listTags(base, 'list/app')).tags, ['a', 'b', 'c', 'd', 'e']);
    const repos = await catalog(base);
    assert.deepEqual(repos, [...repos].sort());
    assert.ok(repos.includes('list/app'));
  });

  it('deletes by tag (untag), by digest (image and tags) and blobs', async () => {
    const img = await image('del/app', 'v1');
    await pushManifest(base, 'del/app', 'v2', img.manifest, OCI_MANIFEST);
    assert.equal((await request(`${base}/v2/del/app/manifests/v1`, { method: 'DELETE' })).status, 202);
    assert.equal((await getManifest(base, 'del/app', 'v1')).status, 404);
    assert.equal((await getManifest(base, 'del/app', img.digest)).status, 200);
    assert.equal((await request(`${base}/v2/del/app/manifests/${img.digest}`, { method: 'DELETE' })).status, 202);
    const gone = await getManifest(base, 'del/app', 'v2');
    assert.equal(errorCode(gone), 'MANIFEST_UNKNOWN');
    assert.equal((await request(`${base}/v2/del/app/blobs/${sha256(img.layer)}`, { method: 'DELETE' })).status, 202);
    assert.equal(errorCode(await getBlob(base, 'del/app', sha256(img.layer))), 'BLOB_UNKNOWN');
  });

  describe('errors, each with its code and status, changing nothing', () => {
    const expectError = async (p: Promise<{ status: number; body: Buffer }>, status: number, code: string) => {
      const r = await p;
      assert.equal(r.status, status, r.body.toString());
      assert.equal(errorCode(r as never), code);
    };

    it('BLOB_UNKNOWN, NAME_UNKNOWN, MANIFEST_UNKNOWN', async () => {
      await image('err/known', 'v1');
      await expectError(getBlob(base, 'err/known', sha256('missing')), 404, 'BLOB_UNKNOWN');
      await expectError(getManifest(base, 'err/unknown-repo', 'v1'), 404, 'NAME_UNKNOWN');
      await expectError(request(`${base}/v2/err/unknown-repo/tags/list`), 404, 'NAME_UNKNOWN');
      await expectError(getManifest(base, 'err/known', 'nope'), 404, 'MANIFEST_UNKNOWN');
    });

    it('NAME_INVALID and TAG_INVALID', async () => {
      await expectError(request(`${base}/v2/Upper/Case/tags/list`), 400, 'NAME_INVALID');
      await expectError(request(`${base}/v2/${'a'.repeat(257)}/tags/list`), 400, 'NAME_INVALID');
      await expectError(pushManifest(base, 'err/known', '-bad-tag', Buffer.from('{}'), OCI_MANIFEST), 400, 'TAG_INVALID');
      // No manifest can be stored under it, so reading it is an unknown manifest (oci-fidelity.test.ts).
      await expectError(getManifest(base, 'err/known', '-bad-tag'), 404, 'MANIFEST_UNKNOWN');
    });

    it('DIGEST_INVALID: malformed, missing and mismatched digests leave nothing behind', async () => {
      await expectError(getBlob(base, 'err/known', 'sha256:xyz'), 400, 'DIGEST_INVALID');
      const url = await startUpload(base, 'err/digest');
      await expectError(request(url, { method: 'PUT', body: 'abc' }), 400, 'DIGEST_INVALID');
      const data = Buffer.from('the real bytes');
      const claimed = sha256('other bytes');
      await expectError(request(`${base}/v2/err/digest/blobs/uploads/?digest=${claimed}`, { method: 'POST', body: asBody(data) }), 400, 'DIGEST_INVALID');
      assert.equal((await getBlob(base, 'err/digest', claimed, 'HEAD')).status, 404);
      assert.equal((await getBlob(base, 'err/digest', sha256(data), 'HEAD')).status, 404);
      const img = await image('err/digest', 'v1');
      await expectError(pushManifest(base, 'err/digest', sha256('x'), img.manifest, OCI_MANIFEST), 400, 'DIGEST_INVALID');
    });

    it('BLOB_UPLOAD_UNKNOWN and BLOB_UPLOAD_INVALID', async () => {
      await expectError(request(`${base}/v2/err/known/blobs/uploads/00000000-0000-4000-8000-000000000000`), 404, 'BLOB_UPLOAD_UNKNOWN');
      await expectError(request(`${base}/v2/err/known/blobs/uploads/..%2F..%2Fetc`), 404, 'BLOB_UPLOAD_UNKNOWN');
      const url = await startUpload(base, 'err/known');
      await expectError(request(url, { method: 'PATCH', headers: { 'Content-Range': 'garbage' }, body: 'x' }), 400, 'BLOB_UPLOAD_INVALID');
    });

    it('SIZE_INVALID when Content-Range and Content-Length disagree', async () => {
      const url = await startUpload(base, 'err/known');
      await expectError(request(url, { method: 'PATCH', headers: { 'Content-Range': '0-9' }, body: 'abc' }), 400, 'SIZE_INVALID');
    });

    it('MANIFEST_BLOB_UNKNOWN and MANIFEST_INVALID refuse without creating a repository or tag', async () => {
      const missing = imageManifest(Buffer.from('nope'), [Buffer.from('nope either')]);
      await expectError(pushManifest(base, 'err/new-repo', 'v1', missing, OCI_MANIFEST), 400, 'MANIFEST_BLOB_UNKNOWN');
      await expectError(pushManifest(base, 'err/new-repo', 'v1', Buffer.from('{not json'), OCI_MANIFEST), 400, 'MANIFEST_INVALID');
      await expectError(pushManifest(base, 'err/new-repo', 'v1', Buffer.from('{"schemaVersion":2}'), OCI_MANIFEST), 400, 'MANIFEST_INVALID');
      const childless = Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: sha256('c'), size: 1 }] }),
      );
      await expectError(pushManifest(base, 'err/new-repo', 'v1', childless, OCI_INDEX), 400, 'MANIFEST_BLOB_UNKNOWN');
      const big = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
      await expectError(pushManifest(base, 'err/new-repo', 'v1', big, OCI_MANIFEST), 413, 'MANIFEST_INVALID');
      assert.ok(!(await catalog(base)).includes('err/new-repo'));
    });

    it('UNSUPPORTED for schema 1 manifests and unknown media types', async () => {
      const v1 = Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'y' }));
      await expectError(pushManifest(base, 'err/known', 'v9', v1, 'application/vnd.docker.distribution.manifest.v1+prettyjws'), 415, 'UNSUPPORTED');
      await expectError(pushManifest(base, 'err/known', 'v9', Buffer.from('{}'), 'text/plain'), 415, 'UNSUPPORTED');
      await expectError(request(`${base}/v2/err/known/tags/list`, { method: 'DELETE' }), 405, 'UNSUPPORTED');
      assert.equal((await getManifest(base, 'err/known', 'v9')).status, 404);
    });

    it('TOOMANYREQUESTS past the open upload session limit', async () => {
      const opened: string[] = [];
      let refused: { status: number; body: Buffer } | undefined;
      for (let i = 0; i < 25 && !refused; i++) {
        const r = await request(`${base}/v2/err/sessions/blobs/uploads/`, { method: 'POST' });
        if (r.status === 202) opened.push(uploadUrl(base, r.headers.get('location')!));
        else refused = r;
      }
      assert.ok(refused, 'the limit of 20 sessions was enforced');
      assert.equal(refused.status, 429);
      assert.equal(errorCode(refused as never), 'TOOMANYREQUESTS');
      for (const url of opened) await request(url, { method: 'DELETE' });
      assert.equal((await request(`${base}/v2/err/sessions/blobs/uploads/`, { method: 'POST' })).status, 202);
    });

    it('never answers garbage with a 5xx', async () => {
      const paths = [
        '/v2/%zz/tags/list',
        '/v2/a/manifests/' + 'x'.repeat(5000),
        '/v2/../../etc/passwd',
        '/v2/a%00b/tags/list',
        '/v2/_catalog?n=abc',
        '/v2/a/b/blobs/sha999:00',
        '/nothing',
        '/v2/a/referrers/nope',
      ];
      for (const p of paths) {
        for (const method of ['GET', 'PUT', 'POST', 'DELETE', 'PATCH']) {
          const r = await request(base + p, { method, ...(method !== 'GET' && method !== 'DELETE' && { body: '{]' }) });
          assert.ok(r.status < 500, `${method} ${p} → ${r.status}`);
        }
      }
    });
  });
});
