/**
 * The archive mover's crash safety, in process, on the real SQLite engine and two memory blob
 * stores (standard and archive): a crash (an exception) injected at each step of a move —
 * while copying, at the class commit, before the source is deleted — leaves the blob's class
 * naming a store that holds its bytes, whole; the retried job then finishes, leaving one copy.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { after, describe, it } from 'node:test';
import type { BlobStore } from '../blobstore/blob-store.js';
import { createMemoryBlobStore } from '../blobstore/memory/memory-blob-store.js';
import type { BlobVaults } from '../blobstore/vaults.js';
import { digestOf, type Digest } from '../core/digest.js';
import { MediaTypes } from '../core/media-types.js';
import { parseTag } from '../core/names.js';
import { registryKey } from '../core/registry-key.js';
import { createSqliteMetadataStore } from '../metadata/sqlite/sqlite-store.js';
import type { MetadataStore } from '../metadata/types.js';
import { HashPool } from '../registry/hash-pool.js';
import { createRegistry, type Registry } from '../registry/registry.js';
import { testContext } from '../registry/testing.js';
import { ARCHIVE_MOVE_JOB } from '../registry/storage-classes.js';
import { ArchiveMover } from './archive-mover.js';

const hashing = new HashPool();
after(() => hashing.close());

const scope = { registryKey: registryKey('000000000000', 'us-east-1'), name: 'team/app' };
const NOW = new Date('2026-01-01T00:00:00Z');

/** A crash of the mover at one step: the step throws, as a process dying there would stop it. */
class Crash extends Error {}

interface Rig {
  registry: Registry;
  meta: MetadataStore;
  standard: BlobStore;
  archive: BlobStore;
  /** Steps to fail once (set only after the pushes, so they hit the mover): 'commit' (the target store's commit), 'class' (the metadata commit), 'delete' (the source delete). */
  failOnce: Set<'commit' | 'class' | 'delete'>;
}

function rig(): Rig {
  const failOnce = new Set<'commit' | 'class' | 'delete'>();
  const trap = (store: BlobStore): BlobStore => ({
    ...store,
    name: store.name,
    stat: (d) => store.stat(d),
    read: (d, r, s) => store.read(d, r, s),
    writer: async (id, o) => {
      const w = await store.writer(id, o);
      return {
        get uploadId() {
          return w.uploadId;
        },
        get size() {
          return w.size;
        },
        append: (src, s) => w.append(src, s),
        commit: async (d) => {
          if (failOnce.delete('commit')) throw new Crash('crash while copying');
          return w.commit(d);
        },
        cancel: () => w.cancel(),
        close: () => w.close(),
      };
    },
    delete: async (d) => {
      if (failOnce.delete('delete')) throw new Crash('crash before the source is deleted');
      return store.delete(d);
    },
  });
  const standard = createMemoryBlobStore();
  const archive = createMemoryBlobStore();
  const vaults: BlobVaults = {
    settle: async (_k, s) => s,
    of: async () => trap(standard),
    archiveOf: async () => trap(archive),
    all: async () => [standard, archive],
  };
  const inner = createSqliteMetadataStore({ path: ':memory:' });
  const meta: MetadataStore = Object.create(inner) as MetadataStore;
  Object.defineProperty(meta, 'archive', {
    value: {
      ...inner.archive,
      setStorageClass: async (...args: Parameters<MetadataStore['archive']['setStorageClass']>) => {
        if (failOnce.delete('class')) throw new Crash('crash at the class commit');
        return inner.archive.setStorageClass(...args);
      },
    },
  });
  const registry = createRegistry(testContext({ vaults, meta, clock: { now: () => NOW }, hashing }));
  return { registry, meta, standard, archive, failOnce };
}

async function push(r: Registry, tag: string, seed: string, salt = ''): Promise<{ digest: Digest; blobs: Map<Digest, string> }> {
  const config = Buffer.from(`{"seed":"${seed}"}`);
  const layer = Buffer.from(`layer ${seed}`);
  const blobs = new Map<Digest, string>();
  for (const b of [config, layer]) {
    await r.uploads.monolithic(scope, digestOf(b), Readable.from([b]));
    blobs.set(digestOf(b), b.toString());
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digestOf(layer), size: layer.length }],
      ...(salt !== '' && { annotations: { salt } }),
    }),
  );
  const { digest } = await r.manifests.push(scope, { kind: 'tag', tag: parseTag(tag) }, manifest, undefined);
  return { digest, blobs };
}

/** Runs the pending move jobs once each, as the worker would; returns the errors they threw. */
async function runJobs(t: Rig): Promise<unknown[]> {
  const mover = new ArchiveMover(t.registry);
  const errors: unknown[] = [];
  for (const job of await t.meta.jobs.claim([ARCHIVE_MOVE_JOB], 'test', 60_000, 10, NOW)) {
    try {
      await mover.run(job, new AbortController().signal);
      await t.meta.jobs.complete(job.id, 'test');
    } catch (e) {
      errors.push(e);
      await t.meta.jobs.fail(job.id, 'test', String(e), NOW);
    }
  }
  return errors;
}

/** The invariant: every blob's class names a store holding its bytes, whole. */
async function assertConsistent(t: Rig, blobs: Map<Digest, string>, step: string): Promise<void> {
  for (const [d, content] of blobs) {
    const cls = await t.meta.archive.storageClass(d);
    const store = cls === 'ARCHIVE' ? t.archive : t.standard;
    assert.equal(await text(await store.read(d)), content, `${step}: blob ${d} (class ${cls}) readable from its class's store`);
  }
}

async function copiesOf(t: Rig, d: Digest): Promise<string[]> {
  return [...((await t.standard.stat(d)) ? ['standard'] : []), ...((await t.archive.stat(d)) ? ['archive'] : [])];
}

describe('archive mover: a crash at any step leaves a consistent registry', () => {
  for (const step of ['commit', 'class', 'delete'] as const) {
    it(`archive, then restore, with a crash at '${step}' each way`, async () => {
      const t = rig();
      const { digest, blobs } = await push(t.registry, 'v1', step);
      assert.equal((await t.registry.storageClasses.update(scope, { imageTag: 'v1' }, 'ARCHIVE')).imageStatus, 'ARCHIVED');

      t.failOnce.add(step);
      const errors = await runJobs(t);
      assert.ok(errors[0] instanceof Crash, `the injected crash at ${step} stopped the move`);
      await assertConsistent(t, blobs, `after a crash at ${step}`);
      assert.deepEqual(await runJobs(t), [], 'the retried job finishes');
      for (const d of blobs.keys()) {
        assert.equal(await t.meta.archive.storageClass(d), 'ARCHIVE');
        assert.deepEqual(await copiesOf(t, d), ['archive'], `blob ${d}: one copy, in the archive`);
      }

      assert.equal((await t.registry.storageClasses.update(scope, { imageDigest: digest }, 'STANDARD')).imageStatus, 'ACTIVATING');
      t.failOnce.add(step);
      assert.ok((await runJobs(t))[0] instanceof Crash);
      await assertConsistent(t, blobs, `restoring, after a crash at ${step}`);
      const [summary] = await t.meta.images.get((await t.meta.repositories.find(scope.registryKey, scope.name))!.id, [digest]);
      assert.equal(summary?.imageStatus, 'ACTIVATING', 'not ACTIVE before its bytes are back');
      assert.deepEqual(await runJobs(t), []);
      for (const d of blobs.keys()) assert.deepEqual(await copiesOf(t, d), ['standard'], `blob ${d}: one copy, back in the standard store`);
      const m = await t.registry.manifests.get(scope, { kind: 'tag', tag: parseTag('v1') });
      assert.equal(m.imageStatus, 'ACTIVE');
    });
  }

  it('keeps a blob an active image shares in the standard store', async () => {
    const t = rig();
    const a = await push(t.registry, 'a', 'shared');
    const b = await push(t.registry, 'b', 'shared', 'another image, the same blobs');
    assert.notEqual(a.digest, b.digest);
    await t.registry.storageClasses.update(scope, { imageTag: 'a' }, 'ARCHIVE');
    assert.deepEqual(await runJobs(t), []);
    for (const d of a.blobs.keys()) assert.deepEqual(await copiesOf(t, d), ['standard']);
  });
});
