/**
 * The garbage collector over the real registry core, the SQLite engine (in memory) and the
 * memory blob store, with a clock the test moves: what is reclaimed, what is kept, and the
 * interleavings of the upload-commit protocol with review and sweep, step by step.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { createMemoryBlobStore } from '../blobstore/memory/memory-blob-store.js';
import { ChangeSignal } from '../core/expiring-cache.js';
import { digestOf, type Digest } from '../core/digest.js';
import { RegistryError } from '../core/errors.js';
import { MediaTypes } from '../core/media-types.js';
import { parseTag } from '../core/names.js';
import { GC_CLAIM_STALE_MS } from '../metadata/gc.js';
import { createSqliteMetadataStore } from '../metadata/sqlite/sqlite-store.js';
import type { RegistryContext } from '../registry/context.js';
import { createRegistry, type Registry } from '../registry/registry.js';
import type { BlobStore } from '../blobstore/blob-store.js';
import { singleVault } from '../blobstore/vaults.js';
import { GarbageCollector } from './collector.js';
import { HashPool } from '../registry/hash-pool.js';
import { registryKey } from '../core/registry-key.js';

/** Real hashing threads, shared by the tests of this file. */
const hashing = new HashPool();
after(() => hashing.close());

const scope = { registryKey: registryKey('000000000000', 'us-east-1'), name: 'team/app' };
const other = { registryKey: registryKey('000000000000', 'us-east-1'), name: 'team/other' };
const HOUR = 3_600_000;

function setup(graceMs = 0) {
  let t = Date.parse('2026-01-01T00:00:00Z');
  const blobs = createMemoryBlobStore();
  const ctx: RegistryContext & { blobs: BlobStore } = {
    blobs,
    vaults: singleVault(blobs),
    meta: createSqliteMetadataStore({ path: ':memory:' }),
    clock: { now: () => new Date(t) },
    log: pino({ level: 'silent' }),
    hashing,
    authzChanges: new ChangeSignal(),
    limits: {
      createOnPush: true,
      deleteEnabled: true,
      autoMount: true,
      maxUploadSessions: 100,
      maxManifestBytes: 4 * 1024 * 1024,
      maxBlobBytes: 1024 * 1024,
      maxPageSize: 100,
    },
  };
  const r = createRegistry(ctx);
  const gc = new GarbageCollector({ gc: ctx.meta.gc, blobs: ctx.blobs, clock: ctx.clock, log: ctx.log }, { graceMs, uploadMaxAgeMs: HOUR });
  return { r, ctx, gc, advance: (ms: number) => (t += ms) };
}

const push = (r: Registry, s: typeof scope, data: Buffer) => r.uploads.monolithic(s, digestOf(data), Readable.from([data]));

async function pushImage(r: Registry, s: typeof scope, tag: string, layers: Buffer[]): Promise<Digest> {
  const config = Buffer.from(JSON.stringify({ tag, s: s.name }));
  for (const b of [config, ...layers]) await push(r, s, b);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digestOf(l), size: l.length })),
    }),
  );
  return (await r.manifests.push(s, { kind: 'tag', tag: parseTag(tag) }, manifest, undefined)).digest;
}

const stored = async (ctx: { blobs: BlobStore }, d: Digest) => (await ctx.blobs.stat(d)) !== undefined;
const code = (e: unknown) => (e instanceof RegistryError ? e.code.oci : String(e));

describe('garbage collection', () => {
  it('reclaims a blob uploaded but never referenced, and keeps referenced ones', async () => {
    const { r, ctx, gc } = setup();
    const orphan = Buffer.from('never referenced');
    await push(r, scope, orphan);
    const layer = Buffer.from('a layer');
    await pushImage(r, scope, 'v1', [layer]);
    const report = await gc.run();
    assert.equal(report.reviewed, 3);
    assert.equal(report.kept, 2);
    assert.deepEqual(report.deleted, { blobs: 1, bytes: orphan.length });
    assert.deepEqual(report.swept, { blobs: 1, bytes: orphan.length });
    assert.equal(await stored(ctx, digestOf(orphan)), false);
    assert.equal(await ctx.meta.blobs.find(digestOf(orphan)), undefined);
    await assert.rejects(r.blobs.stat(scope, digestOf(orphan)), (e) => code(e) === 'BLOB_UNKNOWN');
    assert.equal(await stored(ctx, digestOf(layer)), true);
    // Nothing is due any more: a second pass reviews nothing.
    assert.equal((await gc.run()).reviewed, 0);
  });

  it('keeps a layer shared by two images until the second goes, also across repositories', async () => {
    const { r, ctx, gc } = setup();
    const shared = Buffer.from('shared layer');
    const a = await pushImage(r, scope, 'a', [shared, Buffer.from('only a')]);
    const b = await pushImage(r, other, 'b', [shared]);
    await gc.run();
    await r.manifests.delete(scope, { kind: 'digest', digest: a });
    const first = await gc.run();
    assert.equal(first.deleted.blobs, 2); // a's config and its own layer
    assert.equal(await stored(ctx, digestOf(shared)), true);
    // The shared layer's link in team/app, which no image there uses, went with the review.
    assert.equal(await ctx.meta.blobs.findInRepository((await ctx.meta.repositories.find(scope.registryKey, scope.name))!.id, digestOf(shared)), undefined);
    await r.manifests.delete(other, { kind: 'digest', digest: b });
    const second = await gc.run();
    assert.equal(second.deleted.blobs, 2);
    assert.equal(await stored(ctx, digestOf(shared)), false);
  });

  it('waits out the grace period, and a HEAD or a mount restarts it', async () => {
    const { r, ctx, gc, advance } = setup(HOUR);
    const headed = Buffer.from('headed');
    const mounted = Buffer.from('mounted');
    const idle = Buffer.from('idle');
    for (const b of [headed, mounted, idle]) await push(r, scope, b);
    assert.equal((await gc.run()).reviewed, 0);
    advance(HOUR / 2);
    await r.blobs.stat(scope, digestOf(headed));
    await r.blobs.mount(other, digestOf(mounted), scope);
    advance(HOUR / 2);
    const report = await gc.run();
    assert.deepEqual(report.deleted, { blobs: 1, bytes: idle.length });
    assert.equal(await stored(ctx, digestOf(idle)), false);
    assert.equal(await stored(ctx, digestOf(headed)), true);
    advance(HOUR / 2);
    assert.equal((await gc.run()).deleted.blobs, 2);
  });

  it('a dry run reports and changes nothing', async () => {
    const { r, ctx, gc } = setup();
    const orphan = Buffer.from('dry');
    await push(r, scope, orphan);
    const dry = await gc.run({ dryRun: true });
    assert.equal(dry.dryRun, true);
    assert.deepEqual(dry.deleted, { blobs: 1, bytes: orphan.length });
    assert.equal(await stored(ctx, digestOf(orphan)), true);
    assert.ok(await r.blobs.stat(scope, digestOf(orphan)));
    assert.equal((await gc.run()).deleted.blobs, 1);
  });

  it('deleting a repository queues everything it held', async () => {
    const { r, ctx, gc } = setup();
    const layer = Buffer.from('repo layer');
    await pushImage(r, scope, 'v1', [layer]);
    await gc.run();
    await r.repositories.delete(scope, true);
    assert.equal((await gc.run()).deleted.blobs, 2);
    assert.equal(await stored(ctx, digestOf(layer)), false);
  });

  it('an upload of a digest whose deletion is pending cancels it and keeps the bytes', async () => {
    const { r, ctx } = setup();
    const data = Buffer.from('revived by push');
    const d = digestOf(data);
    await push(r, scope, data);
    await ctx.meta.gc.review(ctx.clock.now(), ctx.clock.now(), 10); // metadata gone, deletion pending
    assert.equal(await ctx.meta.blobs.find(d), undefined);
    await push(r, other, data);
    const swept = await ctx.meta.gc.claimDeletions('', ctx.clock.now(), new Date(0), 10);
    assert.deepEqual(swept.claimed, []);
    assert.equal(await stored(ctx, d), true);
    assert.ok(await r.blobs.stat(other, d));
  });

  it('an upload waits while the bytes are being deleted, and a commit under way blocks the sweep', async () => {
    const { r, ctx, advance } = setup();
    const data = Buffer.from('contended');
    const d = digestOf(data);
    await push(r, scope, data);
    const now = ctx.clock.now();
    await ctx.meta.gc.review(now, now, 10);
    assert.deepEqual((await ctx.meta.gc.claimDeletions('', now, new Date(now.getTime() - GC_CLAIM_STALE_MS), 10)).claimed, [d]);
    const staleBefore = new Date(now.getTime() - GC_CLAIM_STALE_MS);
    const upload = '00000000-0000-4000-8000-000000000001';
    assert.equal(await ctx.meta.blobs.beginCommit(upload, d, now, staleBefore), 'busy');
    // The deleting worker died: its claim goes stale, and the upload may take over.
    advance(GC_CLAIM_STALE_MS + 1);
    const later = ctx.clock.now();
    assert.equal(await ctx.meta.blobs.beginCommit(upload, d, later, new Date(later.getTime() - GC_CLAIM_STALE_MS)), 'ok');
    // With the marker in place no deletion of d can be claimed, even one queued afresh.
    await ctx.meta.blobs.releaseCommit('00000000-0000-4000-8000-000000000002', later); // no such marker: no-op
    const upload2 = '00000000-0000-4000-8000-000000000003';
    await ctx.meta.blobs.beginCommit(upload2, d, later, staleBefore);
    await ctx.meta.blobs.releaseCommit(upload2, later); // no blob row: queues a deletion
    assert.deepEqual((await ctx.meta.gc.claimDeletions('', later, staleBefore, 10)).claimed, []);
    await ctx.meta.blobs.record(1, { digest: d, size: data.length }, later, upload);
    assert.equal(await ctx.meta.gc.countDeletions(), 0);
  });

  it('a push that meets a deletion in progress waits for it, then stores its own copy', async () => {
    const { r, ctx } = setup();
    const data = Buffer.from('pushed while being swept');
    const d = digestOf(data);
    await push(r, scope, data);
    const now = ctx.clock.now();
    await ctx.meta.gc.review(now, now, 10);
    assert.deepEqual((await ctx.meta.gc.claimDeletions('', now, new Date(0), 10)).claimed, [d]);
    let settled = false;
    const pushing = push(r, other, data).finally(() => (settled = true));
    await new Promise((res) => setTimeout(res, 60));
    assert.equal(settled, false, 'the push waits while the deletion is claimed');
    // The sweep finishes: bytes, then row. The push then commits its own bytes.
    await ctx.blobs.delete(d);
    await ctx.meta.gc.finishDeletions([d]);
    await pushing;
    assert.equal(await stored(ctx, d), true);
    assert.ok(await r.blobs.stat(other, d));
  });

  it('a commit marker left by a dead node is reclaimed after the upload age', async () => {
    const { ctx, gc, advance } = setup();
    const data = Buffer.from('committed, never recorded');
    const d = digestOf(data);
    const w = await ctx.blobs.writer('00000000-0000-4000-8000-00000000000a', { append: false });
    await w.append(Readable.from([data]));
    await ctx.meta.blobs.beginCommit(w.uploadId, d, ctx.clock.now(), new Date(0));
    await w.commit(d);
    assert.equal((await gc.run()).swept.blobs, 0);
    advance(HOUR + 1);
    const report = await gc.run();
    assert.equal(report.commitMarkersReclaimed, 1);
    assert.equal(report.swept.blobs, 1);
    assert.equal(await stored(ctx, d), false);
  });

  it('reclaims upload sessions idle longer than the upload age', async () => {
    const { r, ctx, gc, advance } = setup();
    const idle = await r.uploads.start(scope);
    await r.uploads.append(scope, idle.id, Readable.from([Buffer.from('partial')]));
    advance(HOUR / 2);
    const active = await r.uploads.start(scope);
    advance(HOUR / 2 + 1);
    const report = await gc.run();
    assert.equal(report.uploadsReclaimed, 1);
    assert.equal(await ctx.blobs.statUpload(idle.id), undefined);
    await assert.rejects(r.uploads.status(scope, idle.id), (e) => code(e) === 'BLOB_UPLOAD_UNKNOWN');
    assert.equal((await r.uploads.status(scope, active.id)).size, 0);
  });

  it('accounts storage per repository and per account, linked and deduplicated', async () => {
    const { r, ctx } = setup();
    const shared = Buffer.alloc(1000, 1);
    await pushImage(r, scope, 'a', [shared]);
    await pushImage(r, other, 'b', [shared]);
    const u = await ctx.meta.gc.usage('000000000000');
    const cfg = (s: typeof scope, tag: string) => Buffer.byteLength(JSON.stringify({ tag, s: s.name }));
    assert.deepEqual(
      u.repositories.map((x) => [x.name, x.images, x.blobs, x.bytes]),
      [
        ['team/app', 1, 2, 1000 + cfg(scope, 'a')],
        ['team/other', 1, 2, 1000 + cfg(other, 'b')],
      ],
    );
    const acc = u.registries[0]!;
    assert.equal(acc.linkedBlobs, 4);
    assert.equal(acc.linkedBytes, 2000 + cfg(scope, 'a') + cfg(other, 'b'));
    assert.equal(acc.blobs, 3);
    assert.equal(acc.bytes, 1000 + cfg(scope, 'a') + cfg(other, 'b'));
    assert.deepEqual(u.stored, { blobs: 3, bytes: acc.bytes });
    assert.deepEqual((await ctx.meta.gc.usage('111122223333')).repositories, []);
  });
});
