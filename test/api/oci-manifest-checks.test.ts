/**
 * Manifest pushes a checker would try from outside, beyond the conformance suite: descriptors
 * whose size or embedded data contradict the content they name, digests in forms the image spec
 * does not allow, media types that disagree, bodies served back byte for byte, and the names and
 * tags at the edge of the spec's grammar. Every refusal is checked to have stored nothing.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { PutImageCommand } from '@aws-sdk/client-ecr';
import { ecrClient } from '../e2e/helpers/ecr-client.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';
import { asBody, catalog, errorCode, getManifest, pushBlob, pushManifest, request, sha256, startUpload, type Fetched } from '../e2e/helpers/registry-http.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const CONFIG = 'application/vnd.oci.image.config.v1+json';
const LAYER = 'application/vnd.oci.image.layer.v1.tar';

type Descriptor = Record<string, unknown>;

describe('manifest pushes probed from outside', () => {
  let berth: BerthInProcess;
  let base: string;
  const repo = 'probe/app';
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const layer = randomBytes(1000);
  const configDesc: Descriptor = { mediaType: CONFIG, digest: sha256(config), size: config.length };
  const layerDesc: Descriptor = { mediaType: LAYER, digest: sha256(layer), size: layer.length };
  const manifest = (fields: Record<string, unknown> = {}) =>
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: configDesc, layers: [layerDesc], ...fields }));

  before(async () => {
    berth = await startInProcess();
    base = berth.url;
    for (const b of [config, layer]) assert.equal((await pushBlob(base, repo, b)).status, 201);
  });
  after(async () => berth?.cleanup());

  /** A refused push: its status and code, and neither the tag nor the digest it would have stored. */
  async function refused(res: Promise<Fetched>, tag: string, body: Buffer, status: number, code: string, repository = repo): Promise<Fetched> {
    const r = await res;
    assert.equal(r.status, status, r.body.toString());
    assert.equal(errorCode(r), code, r.body.toString());
    assert.equal((await getManifest(base, repository, tag)).status, 404, `tag ${tag} stored`);
    assert.equal((await getManifest(base, repository, sha256(body))).status, 404, 'the manifest is stored by digest');
    return r;
  }

  describe("a descriptor's size is the size of what it names", () => {
    it('a config or layer descriptor one byte off is 400 MANIFEST_INVALID naming both sizes', async () => {
      for (const [tag, body] of [
        ['config-long', manifest({ config: { ...configDesc, size: config.length + 1 } })],
        ['layer-short', manifest({ layers: [{ ...layerDesc, size: layer.length - 1 }] })],
        ['layer-zero', manifest({ layers: [{ ...layerDesc, size: 0 }] })],
      ] as const) {
        const r = await refused(pushManifest(base, repo, tag, body, OCI_MANIFEST), tag, body, 400, 'MANIFEST_INVALID');
        const detail = (JSON.parse(r.body.toString()) as { errors: Array<{ detail: { digest: string; actual: number } }> }).errors[0]!.detail;
        assert.equal(detail.actual, detail.digest === sha256(config) ? config.length : layer.length);
      }
    });

    it('so is an index entry whose size is not its manifest’s; the right sizes are accepted', async () => {
      const child = manifest();
      assert.equal((await pushManifest(base, repo, 'child', child, OCI_MANIFEST)).status, 201);
      const index = (size: number) =>
        Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: sha256(child), size }] }));
      await refused(pushManifest(base, repo, 'index', index(child.length + 7), OCI_INDEX), 'index', index(child.length + 7), 400, 'MANIFEST_INVALID');
      assert.equal((await pushManifest(base, repo, 'index', index(child.length), OCI_INDEX)).status, 201);
    });

    it('PutImage refuses the same manifest with InvalidParameterException: one rule for both doors', async () => {
      const body = manifest({ layers: [{ ...layerDesc, size: layer.length + 1 }], annotations: { door: 'ecr' } });
      await assert.rejects(
        ecrClient(berth).send(new PutImageCommand({ repositoryName: repo, imageManifest: body.toString(), imageTag: 'ecr' })),
        (e: Error) => {
          assert.equal(e.name, 'InvalidParameterException');
          assert.match(e.message, /declares size 1001, but its content in the repository is 1000 bytes/);
          return true;
        },
      );
      assert.equal((await getManifest(base, repo, 'ecr')).status, 404);
    });

    it('one digest declared with two sizes, and sizes that are not non-negative integers, are MANIFEST_INVALID', async () => {
      const twice = manifest({ layers: [layerDesc, { ...layerDesc, size: layer.length + 1 }] });
      await refused(pushManifest(base, repo, 'twice', twice, OCI_MANIFEST), 'twice', twice, 400, 'MANIFEST_INVALID');
      for (const size of [-1, 1.5, '1000', 2 ** 60, null]) {
        const body = manifest({ layers: [{ ...layerDesc, size }] });
        await refused(pushManifest(base, repo, 'badsize', body, OCI_MANIFEST), 'badsize', body, 400, 'MANIFEST_INVALID');
      }
    });
  });

  it("a descriptor's data must be base64 of exactly the content its digest names", async () => {
    for (const data of [Buffer.from('other').toString('base64'), 'not base64!', Buffer.concat([config, Buffer.from(' ')]).toString('base64'), 42]) {
      const body = manifest({ config: { ...configDesc, data } });
      await refused(pushManifest(base, repo, 'data', body, OCI_MANIFEST), 'data', body, 400, 'MANIFEST_INVALID');
    }
    const good = manifest({ config: { ...configDesc, data: config.toString('base64') } });
    assert.equal((await pushManifest(base, repo, 'data', good, OCI_MANIFEST)).status, 201);
  });

  it('a descriptor digest with upper-case hex, an unknown algorithm or a short hex part is MANIFEST_INVALID', async () => {
    const hex = sha256(layer).slice('sha256:'.length);
    for (const digest of [`sha256:${hex.toUpperCase()}`, `SHA256:${hex}`, `sha384:${hex}${hex.slice(0, 32)}`, `sha256:${hex.slice(1)}`, `sha512:${hex}`]) {
      const body = manifest({ layers: [{ ...layerDesc, digest }] });
      await refused(pushManifest(base, repo, 'digest', body, OCI_MANIFEST), 'digest', body, 400, 'MANIFEST_INVALID');
    }
  });

  it('a Content-Type other than the body’s mediaType is MANIFEST_INVALID; with no mediaType the Content-Type is the type, served back', async () => {
    const body = manifest({ annotations: { typed: 'yes' } });
    for (const type of [OCI_INDEX, DOCKER_MANIFEST]) await refused(pushManifest(base, repo, 'ctype', body, type), 'ctype', body, 400, 'MANIFEST_INVALID');
    const untyped = Buffer.from(JSON.stringify({ schemaVersion: 2, config: configDesc, layers: [layerDesc] }));
    assert.equal((await pushManifest(base, repo, 'untyped', untyped, OCI_MANIFEST)).status, 201);
    const got = await getManifest(base, repo, 'untyped');
    assert.equal(got.headers.get('content-type'), OCI_MANIFEST);
    assert.deepEqual(got.body, untyped);
    // Docker's schema 2 must name itself (as the reference registry requires).
    const dockerUntyped = Buffer.from(
      JSON.stringify({ schemaVersion: 2, config: { ...configDesc, mediaType: 'application/vnd.docker.container.image.v1+json' }, layers: [] }),
    );
    await refused(pushManifest(base, repo, 'docker-untyped', dockerUntyped, DOCKER_MANIFEST), 'docker-untyped', dockerUntyped, 400, 'MANIFEST_INVALID');
  });

  it('a layer still being uploaded (its bytes sent, the session not completed) is MANIFEST_BLOB_UNKNOWN, and not readable', async () => {
    const half = randomBytes(500);
    const session = await startUpload(base, repo);
    assert.equal((await request(session, { method: 'PATCH', body: asBody(half) })).status, 202);
    const body = manifest({ layers: [{ mediaType: LAYER, digest: sha256(half), size: half.length }] });
    await refused(pushManifest(base, repo, 'half', body, OCI_MANIFEST), 'half', body, 400, 'MANIFEST_BLOB_UNKNOWN');
    assert.equal((await request(`${base}/v2/${repo}/blobs/${sha256(half)}`, { method: 'HEAD' })).status, 404);
  });

  it('a body with the fields of both a manifest and an index is MANIFEST_INVALID, whichever type it names (CVE-2021-41190)', async () => {
    const child = manifest({ annotations: { role: 'child' } });
    assert.equal((await pushManifest(base, repo, 'mixed-child', child, OCI_MANIFEST)).status, 201);
    const entry = { mediaType: OCI_MANIFEST, digest: sha256(child), size: child.length };
    for (const [body, type] of [
      [{ schemaVersion: 2, mediaType: OCI_MANIFEST, config: configDesc, layers: [layerDesc], manifests: [entry] }, OCI_MANIFEST],
      [{ schemaVersion: 2, config: configDesc, layers: [layerDesc], manifests: [entry] }, OCI_MANIFEST],
      [{ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [entry], config: configDesc, layers: [layerDesc] }, OCI_INDEX],
      [{ schemaVersion: 2, manifests: [entry], layers: [layerDesc] }, OCI_INDEX],
    ] as const) {
      const bytes = Buffer.from(JSON.stringify(body));
      await refused(pushManifest(base, repo, 'mixed', bytes, type), 'mixed', bytes, 400, 'MANIFEST_INVALID');
    }
  });

  it('an index naming a manifest only another repository holds is MANIFEST_BLOB_UNKNOWN', async () => {
    const elsewhere = manifest({ annotations: { where: 'elsewhere' } });
    for (const b of [config, layer]) await pushBlob(base, 'probe/other', b);
    assert.equal((await pushManifest(base, 'probe/other', 'v1', elsewhere, OCI_MANIFEST)).status, 201);
    const index = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: sha256(elsewhere), size: elsewhere.length }] }),
    );
    await refused(pushManifest(base, repo, 'borrowed', index, OCI_INDEX), 'borrowed', index, 400, 'MANIFEST_BLOB_UNKNOWN');
  });

  it('serves the pushed bytes back unchanged (whitespace, key order, sha512) under the digest of those bytes', async () => {
    const pretty = Buffer.from(
      `{\n  "layers" : [ ],\n\t"schemaVersion":2,\n  "config": {"size": ${config.length}, "digest": "${sha256(config)}", "mediaType": "${CONFIG}"},\n  "mediaType": "${OCI_MANIFEST}"\n}\n\n`,
    );
    const put = await pushManifest(base, repo, 'pretty', pretty, OCI_MANIFEST);
    assert.equal(put.headers.get('docker-content-digest'), sha256(pretty));
    for (const ref of ['pretty', sha256(pretty)]) {
      const got = await getManifest(base, repo, ref);
      assert.deepEqual(got.body, pretty);
      assert.equal(got.headers.get('docker-content-digest'), sha256(pretty));
      const head = await getManifest(base, repo, ref, 'HEAD');
      assert.equal(head.headers.get('content-length'), String(pretty.length));
    }
    const d512 = `sha512:${createHash('sha512').update(pretty).digest('hex')}`;
    assert.equal((await pushManifest(base, repo, d512, pretty, OCI_MANIFEST)).headers.get('docker-content-digest'), d512);
    const got512 = await getManifest(base, repo, d512);
    assert.deepEqual(got512.body, pretty);
    assert.equal(got512.headers.get('docker-content-digest'), d512);
  });

  it('bounds: 10,001 layers are MANIFEST_INVALID; deep nesting within the size limit is stored and served back', async () => {
    const many = manifest({ layers: Array.from({ length: 10_001 }, () => layerDesc) });
    await refused(pushManifest(base, repo, 'many', many, OCI_MANIFEST), 'many', many, 400, 'MANIFEST_INVALID');
    const deep = Buffer.from(
      `{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}","x":${'['.repeat(50_000)}${']'.repeat(50_000)},"config":${JSON.stringify(configDesc)},"layers":[]}`,
    );
    assert.equal((await pushManifest(base, repo, 'deep', deep, OCI_MANIFEST)).status, 201);
    assert.deepEqual((await getManifest(base, repo, 'deep')).body, deep);
  });

  it('tags: 128 characters and a leading _ are tags; 129, a leading . or -, and other characters are TAG_INVALID', async () => {
    const body = manifest();
    for (const tag of ['a'.repeat(128), '_lead', 'A.b-c_9']) assert.equal((await pushManifest(base, repo, tag, body, OCI_MANIFEST)).status, 201, tag);
    for (const tag of ['a'.repeat(129), '.lead', '-lead', 'caf%C3%A9', 'a%20b', 'a%2Fb']) {
      const r = await pushManifest(base, repo, tag, body, OCI_MANIFEST);
      assert.equal(r.status, 400, tag);
      assert.equal(errorCode(r), 'TAG_INVALID', tag);
    }
  });

  it('repository names: 256 characters and separators (., _, __, -) are names; the rest of the grammar is NAME_INVALID, creating nothing', async () => {
    const empty = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }));
    for (const name of [`x/${'a'.repeat(254)}`, 'a.b/c_d/e__f/g-h/i---j'])
      assert.equal((await pushManifest(base, name, 'v1', empty, OCI_INDEX)).status, 201, name);
    for (const name of ['a/', 'a//b', 'Upper/case', 'a___b', 'a..b', '_a', 'a-', `x/${'a'.repeat(255)}`, 'a/_catalog']) {
      const r = await pushManifest(base, name, 'v1', empty, OCI_INDEX);
      assert.equal(r.status, 400, name);
      assert.equal(errorCode(r), 'NAME_INVALID', name);
    }
    const names = await catalog(base);
    assert.ok(!names.some((n) => /[A-Z]|\/\/|_catalog/.test(n)), names.join(' '));
  });

  it('a PUT by digest of other bytes is DIGEST_INVALID; by a tag that is a digest form, DIGEST_INVALID', async () => {
    const body = manifest({ annotations: { n: '1' } });
    await refused(pushManifest(base, repo, sha256('other'), body, OCI_MANIFEST), sha256('other'), body, 400, 'DIGEST_INVALID');
    const r = await request(`${base}/v2/${repo}/manifests/md5:0123`, { method: 'PUT', headers: { 'Content-Type': OCI_MANIFEST }, body: body.toString() });
    assert.equal(r.status, 400);
    assert.equal(errorCode(r), 'DIGEST_INVALID');
  });
});
