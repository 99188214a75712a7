import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { digestOf } from '../core/digest.js';
import { RegistryError } from '../core/errors.js';
import { MediaTypes } from '../core/media-types.js';
import { parseManifest } from './manifest-parse.js';

const cfg = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf('c'), size: 1 };
const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digestOf('l'), size: 1 };

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof RegistryError);
    return e.code.oci;
  }
  assert.fail('expected a RegistryError');
}

const buf = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('parseManifest', () => {
  it('extracts config and layers of an OCI image manifest', () => {
    const p = parseManifest(buf({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: cfg, layers: [layer] }), undefined);
    assert.equal(p.mediaType, MediaTypes.ociManifest);
    assert.deepEqual(p.blobs, [cfg.digest, layer.digest]);
    assert.deepEqual(p.manifests, []);
    assert.equal(p.artifactType, cfg.mediaType);
  });

  it('takes the media type from Content-Type when the body omits it', () => {
    const p = parseManifest(buf({ schemaVersion: 2, config: cfg, layers: [] }), MediaTypes.ociManifest);
    assert.equal(p.mediaType, MediaTypes.ociManifest);
  });

  it('lists index children and the subject and artifactType of an artifact', () => {
    const child = { mediaType: MediaTypes.ociManifest, digest: digestOf('m'), size: 3 };
    const p = parseManifest(
      buf({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [child, child], artifactType: 'x/y', subject: child }),
      MediaTypes.ociIndex,
    );
    assert.deepEqual(p.manifests, [child.digest]);
    assert.equal(p.artifactType, 'x/y');
    assert.equal(p.subject?.digest, child.digest);
  });

  it('does not require foreign layers to be uploaded', () => {
    const foreign = { ...layer, mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', urls: ['https://x'] };
    const p = parseManifest(buf({ schemaVersion: 2, mediaType: MediaTypes.dockerManifest, config: cfg, layers: [foreign] }), MediaTypes.dockerManifest);
    assert.deepEqual(p.blobs, [cfg.digest]);
  });

  it('lists the layers a scan may read in order, repeats kept, without the foreign ones it need not hold', () => {
    const other = { ...layer, digest: `sha256:${'c'.repeat(64)}` };
    const foreign = { ...other, mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip' };
    const p = parseManifest(
      buf({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: cfg, layers: [other, foreign, layer, other] }),
      MediaTypes.ociManifest,
    );
    assert.deepEqual(p.layers, [other.digest, layer.digest, other.digest]);
  });

  it('refuses malformed and unsupported manifests with the right codes', () => {
    assert.equal(
      codeOf(() => parseManifest(Buffer.from('{nope'), MediaTypes.ociManifest)),
      'MANIFEST_INVALID',
    );
    assert.equal(
      codeOf(() => parseManifest(buf([1, 2]), MediaTypes.ociManifest)),
      'MANIFEST_INVALID',
    );
    assert.equal(
      codeOf(() => parseManifest(buf({ schemaVersion: 3, config: cfg }), MediaTypes.ociManifest)),
      'MANIFEST_INVALID',
    );
    assert.equal(
      codeOf(() => parseManifest(buf({ schemaVersion: 2, layers: [] }), MediaTypes.ociManifest)),
      'MANIFEST_INVALID',
    );
    assert.equal(
      codeOf(() => parseManifest(buf({ schemaVersion: 2, config: { ...cfg, digest: 'sha256:xyz' } }), MediaTypes.ociManifest)),
      'MANIFEST_INVALID',
    );
    assert.equal(
      codeOf(() => parseManifest(buf({ schemaVersion: 2, config: { ...cfg, size: -1 } }), MediaTypes.ociManifest)),
      'MANIFEST_INVALID',
    );
    assert.equal(
      codeOf(() => parseManifest(buf({ schemaVersion: 1, name: 'x' }), undefined)),
      'UNSUPPORTED',
    );
    assert.equal(
      codeOf(() => parseManifest(buf({ schemaVersion: 2, config: cfg }), 'text/plain')),
      'UNSUPPORTED',
    );
    assert.equal(
      codeOf(() => parseManifest(buf({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] }), MediaTypes.ociManifest)),
      'MANIFEST_INVALID',
    );
  });

  it('declares each referenced size, and refuses one digest declared with two sizes', () => {
    const p = parseManifest(buf({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: cfg, layers: [layer, layer] }), undefined);
    assert.deepEqual(
      [...p.sizes],
      [
        [cfg.digest, 1],
        [layer.digest, 1],
      ],
    );
    const twice = { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: cfg, layers: [layer, { ...layer, size: 2 }] };
    assert.equal(
      codeOf(() => parseManifest(buf(twice), undefined)),
      'MANIFEST_INVALID',
    );
    const child = { mediaType: MediaTypes.ociManifest, digest: digestOf('m'), size: 5 };
    const index = parseManifest(buf({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [child] }), undefined);
    assert.deepEqual([...index.sizes], [[child.digest, 5]]);
  });

  it("checks a descriptor's embedded data against its digest and size", () => {
    const withData = (data: unknown, d = cfg) => buf({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: { ...d, data }, layers: [] });
    assert.equal(parseManifest(withData(Buffer.from('c').toString('base64')), undefined).blobs[0], cfg.digest);
    for (const bad of [Buffer.from('x').toString('base64'), 'Yw', '!!', 7, Buffer.from('cc').toString('base64')]) {
      assert.equal(
        codeOf(() => parseManifest(withData(bad), undefined)),
        'MANIFEST_INVALID',
        String(bad),
      );
    }
    const sha512 = { ...cfg, digest: digestOf('c', 'sha512') };
    assert.equal(parseManifest(withData(Buffer.from('c').toString('base64'), sha512), undefined).blobs[0], sha512.digest);
  });

  it('refuses a body with the fields of both a manifest and an index, whichever it says it is', () => {
    const child = { mediaType: MediaTypes.ociManifest, digest: digestOf('m'), size: 5 };
    for (const [body, type] of [
      [{ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: cfg, layers: [], manifests: [child] }, undefined],
      [{ schemaVersion: 2, config: cfg, layers: [], manifests: [] }, MediaTypes.ociManifest],
      [{ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [child], layers: [] }, undefined],
      [{ schemaVersion: 2, manifests: [child], config: cfg }, MediaTypes.ociIndex],
      [{ schemaVersion: 2, mediaType: MediaTypes.dockerManifestList, manifests: [child], layers: null }, undefined],
    ] as const) {
      assert.equal(
        codeOf(() => parseManifest(buf(body), type)),
        'MANIFEST_INVALID',
        JSON.stringify(body),
      );
    }
  });

  it('bounds the number of descriptors', () => {
    const layers = Array.from({ length: 10_001 }, () => layer);
    assert.equal(
      codeOf(() => parseManifest(buf({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: cfg, layers }), undefined)),
      'MANIFEST_INVALID',
    );
  });
});
