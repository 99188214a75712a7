/**
 * The registry core's rules, on the real SQLite engine (in memory) and the memory blob store:
 * uploads verified and resumable by a fresh process, tag immutability, ECR's delete semantics.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { digestOf, type Digest } from '../core/digest.js';
import { RegistryError } from '../core/errors.js';
import { MediaTypes } from '../core/media-types.js';
import { parseTag } from '../core/names.js';
import type { RegistryContext } from './context.js';
import { createRegistry, type Registry } from './registry.js';
import { testContext } from './testing.js';
import { HashPool } from './hash-pool.js';
import { registryKey } from '../core/registry-key.js';

/** Real hashing threads, shared by the tests of this file. */
const hashing = new HashPool();
after(() => hashing.close());

const scope = { registryKey: registryKey('000000000000', 'us-east-1'), name: 'team/app' };

function newContext(shared?: Pick<RegistryContext, 'vaults' | 'meta'>): RegistryContext {
  return testContext({ hashing, ...shared });
}

const code = (e: unknown) => (e instanceof RegistryError ? e.code.oci : String(e));

async function pushImage(r: Registry, tag: string, seed: string): Promise<Digest> {
  const config = Buffer.from(`{"seed":"${seed}"}`);
  const layer = Buffer.from(`layer ${seed}`);
  for (const b of [config, layer]) await r.uploads.monolithic(scope, digestOf(b), Readable.from([b]));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digestOf(layer), size: layer.length }],
    }),
  );
  return (await r.manifests.push(scope, { kind: 'tag', tag: parseTag(tag) }, manifest, undefined)).digest;
}

describe('uploads', () => {
  it('refuses a digest mismatch and leaves nothing under either digest', async () => {
    const r = createRegistry(newContext());
    const data = Buffer.from('hello');
    await assert.rejects(r.uploads.monolithic(scope, digestOf('other'), Readable.from([data])), (e) => code(e) === 'DIGEST_INVALID');
    await assert.rejects(r.blobs.stat(scope, digestOf('other')), (e) => code(e) === 'BLOB_UNKNOWN');
    await assert.rejects(r.blobs.stat(scope, digestOf(data)), (e) => code(e) === 'BLOB_UNKNOWN');
  });

  it('finishes in a new process an upload begun in another, re-hashing the staged bytes', async () => {
    const first = newContext();
    const a = createRegistry(first);
    const { id } = await a.uploads.start(scope);
    await a.uploads.append(scope, id, Readable.from([Buffer.from('part one, ')]), { start: 0 });
    const b = createRegistry(newContext(first)); // no running hash: a restart or another node
    const whole = Buffer.from('part one, part two');
    await b.uploads.append(scope, id, Readable.from([Buffer.from('part two')]), { start: 10 });
    assert.equal(await b.uploads.complete(scope, id, digestOf(whole)), digestOf(whole));
    assert.equal((await b.blobs.stat(scope, digestOf(whole))).size, whole.length);
  });

  it('refuses a chunk that does not start where the upload ends, and bounds the blob size', async () => {
    const r = createRegistry(newContext());
    const { id } = await r.uploads.start(scope);
    await assert.rejects(r.uploads.append(scope, id, Readable.from([Buffer.from('x')]), { start: 5 }), (e) => code(e) === 'BLOB_UPLOAD_INVALID');
    const big = Readable.from(
      (function* () {
        for (let i = 0; i < 20; i++) yield Buffer.alloc(64 * 1024);
      })(),
    );
    await assert.rejects(r.uploads.append(scope, id, big), (e) => code(e) === 'SIZE_INVALID');
    await assert.rejects(r.uploads.status(scope, id), (e) => code(e) === 'BLOB_UPLOAD_UNKNOWN');
  });

  it('survives the death of its hashing thread mid-upload: completion re-hashes the staged bytes', async () => {
    // Small batches, one in flight: the body is likely held back by the pool when the thread dies.
    let lost = 0;
    const own = new HashPool({ threads: 1, batchBytes: 16 * 1024, maxInFlight: 1, onWorkerLost: () => lost++ });
    try {
      const r = createRegistry({ ...newContext(), hashing: own });
      for (const honest of [true, false]) {
        const { id } = await r.uploads.start(scope);
        const first = randomBytes(300_000);
        const second = randomBytes(300_000);
        const body = new PassThrough();
        const appended = r.uploads.append(scope, id, body);
        body.write(first);
        while (own.liveWorkers().length === 0) await new Promise((res) => setImmediate(res));
        await own.liveWorkers()[0]!.terminate();
        assert.equal(lost, honest ? 1 : 2, 'the upload had a running hash in the thread that died');
        body.end(second);
        assert.equal((await appended).size, first.length + second.length);
        const whole = Buffer.concat([first, second]);
        if (honest) {
          assert.equal(await r.uploads.complete(scope, id, digestOf(whole)), digestOf(whole));
          assert.deepEqual(Buffer.concat(await (await r.blobs.open(scope, digestOf(whole))).toArray()), whole);
        } else {
          // The re-hash really hashes: a wrong digest is still refused.
          const claimed = digestOf(Buffer.concat([first, first]));
          await assert.rejects(r.uploads.complete(scope, id, claimed), (e) => code(e) === 'DIGEST_INVALID');
          await assert.rejects(r.blobs.stat(scope, claimed), (e) => code(e) === 'BLOB_UNKNOWN');
        }
      }
    } finally {
      await own.close();
    }
  });

  it('limits open sessions', async () => {
    const r = createRegistry(newContext());
    for (let i = 0; i < 10; i++) await r.uploads.start(scope);
    await assert.rejects(r.uploads.start(scope), (e) => code(e) === 'TOOMANYREQUESTS');
  });
});

describe('tag immutability', () => {
  it('holds under IMMUTABLE and honours exclusion filters', async () => {
    const r = createRegistry(newContext());
    await r.repositories.create(scope, {
      settings: { imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION', imageTagMutabilityExclusionFilters: [{ filterType: 'WILDCARD', filter: 'latest*' }] },
    });
    await pushImage(r, 'v1', 'a');
    await pushImage(r, 'latest', 'a');
    await assert.rejects(
      pushImage(r, 'v1', 'b'),
      (e) => e instanceof RegistryError && e.code.ecr === 'ImageTagAlreadyExistsException' && /immutable/.test(e.message),
    );
    await pushImage(r, 'latest', 'b'); // excluded: stays mutable
    await pushImage(r, 'v1', 'a'); // the same image again is no move
  });

  it('rejects exclusion filters without a *_WITH_EXCLUSION mode and the reverse', async () => {
    const r = createRegistry(newContext());
    await assert.rejects(
      r.repositories.create(scope, { settings: { imageTagMutability: 'MUTABLE_WITH_EXCLUSION' } }),
      (e) => e instanceof RegistryError && e.code.ecr === 'InvalidParameterException',
    );
    await assert.rejects(
      r.repositories.create(scope, {
        settings: { imageTagMutability: 'IMMUTABLE', imageTagMutabilityExclusionFilters: [{ filterType: 'WILDCARD', filter: 'x' }] },
      }),
      (e) => e instanceof RegistryError && e.code.ecr === 'InvalidParameterException',
    );
  });
});

describe('ECR image deletes', () => {
  it('untags by tag, deletes with the last tag, and deletes by digest', async () => {
    const r = createRegistry(newContext());
    const d = await pushImage(r, 'v1', 'a');
    await r.manifests.push(scope, { kind: 'tag', tag: parseTag('v2') }, (await r.manifests.get(scope, { kind: 'digest', digest: d })).payload, undefined);
    let out = await r.images.batchDelete(scope, [{ imageTag: 'v1' }]);
    assert.deepEqual(out.deleted, [{ imageDigest: d, imageTag: 'v1' }]);
    assert.ok(await r.manifests.get(scope, { kind: 'digest', digest: d }));
    out = await r.images.batchDelete(scope, [{ imageTag: 'v2' }]);
    await assert.rejects(r.manifests.get(scope, { kind: 'digest', digest: d }), (e) => code(e) === 'MANIFEST_UNKNOWN');
    const d2 = await pushImage(r, 'v3', 'b');
    out = await r.images.batchDelete(scope, [{ imageDigest: d2, imageTag: 'nope' }, { imageTag: 'missing' }, {}, { imageDigest: d2 }]);
    assert.deepEqual(
      out.failures.map((f) => f.failureCode),
      ['ImageNotFound', 'ImageNotFound', 'MissingDigestAndTag'],
    );
    assert.deepEqual(out.deleted, [{ imageDigest: d2 }]);
  });

  it('keeps a manifest an index still lists', async () => {
    const r = createRegistry(newContext());
    const child = await pushImage(r, 'amd64', 'a');
    const size = (await r.manifests.get(scope, { kind: 'digest', digest: child })).size;
    const index = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [{ mediaType: MediaTypes.ociManifest, digest: child, size }] }),
    );
    await r.manifests.push(scope, { kind: 'tag', tag: parseTag('multi') }, index, undefined);
    const out = await r.images.batchDelete(scope, [{ imageDigest: child }]);
    assert.equal(out.failures[0]?.failureCode, 'ImageReferencedByManifestList');
    const [detail] = await r.images.details(scope, await r.images.requireAll(scope, [{ imageTag: 'multi' }]));
    assert.equal(detail!.sizeInBytes, (await r.images.details(scope, await r.images.requireAll(scope, [{ imageDigest: child }])))[0]!.sizeInBytes);
  });
});
