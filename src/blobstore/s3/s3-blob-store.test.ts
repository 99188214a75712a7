/**
 * Holds the s3 driver to the blob-store contract against a real S3 server (Ceph RGW, started by
 * scripts/s3-test-server.sh), plus what only S3 can show: uploads spread over nodes that share
 * nothing but the bucket, multipart assembly, presigned URLs, and staged bytes pinned by ETag.
 */
import { DeleteObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { digestOf } from '../../core/digest.js';
import { BlobNotFoundError, type BlobStore } from '../blob-store.js';
import { runBlobStoreSuite } from '../contract-suite.js';
import { createEncryptedBlobStore } from '../encrypted/encrypted-blob-store.js';
import { bytes, putBlob, readAll, sourceOf } from '../testing.js';
import { createS3BlobStore, createS3Client, parseS3Location, type S3Location } from './s3-blob-store.js';
import { startS3TestServer } from './testing/s3-test-server.js';

const MiB = 1024 * 1024;
const server = await startS3TestServer();
if ('unavailable' in server && (process.env.CI || process.env.BERTH_REQUIRE_S3)) {
  // CI has root and Debian's archive, so the server must start there; a skip would hide that.
  throw new Error(`no S3 test server on CI: ${server.unavailable}`);
}
const skip = 'unavailable' in server ? `no S3 server on this machine (${server.unavailable})` : undefined;

/** Every test works under its own prefix of this run's, so runs and tests never see each other. */
const runPrefix = `berth-test-${randomUUID()}`;

function location(prefix = `${runPrefix}/${randomUUID()}`): S3Location {
  if ('unavailable' in server) throw new Error('unreachable');
  return parseS3Location(`s3://${server.bucket}/${prefix}`, {
    endpoint: server.endpoint,
    region: server.region,
    accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey,
    forcePathStyle: true,
    // S3's minimum, so that a few MiB already make multi-part uploads.
    partSize: 5 * MiB,
  });
}

/** A store as a separate node would build it: its own SDK client, nothing shared in memory. */
const node = (loc: S3Location) => createS3BlobStore(loc);

// A skipped describe would count no test at all; one skipped test shows up, with its reason.
if (skip) it('s3 blob store against a real S3 server', { skip }, () => undefined);
// Every call is a round trip to the S3 server, and every test works under a prefix of its own:
// the three suites side by side, a few tests of each at a time.
else
  describe('s3 blob store', { concurrency: true }, () => {
    let raw: S3Client;
    after(async () => {
      try {
        // For a server this run did not start. Listing is fine here: it is test cleanup, not the
        // driver answering a request.
        const loc = location(runPrefix);
        raw ??= createS3Client(loc);
        let token: string | undefined;
        do {
          const res = await raw.send(new ListObjectsV2Command({ Bucket: loc.bucket, Prefix: `${runPrefix}/`, ContinuationToken: token }));
          for (const o of res.Contents ?? []) await raw.send(new DeleteObjectCommand({ Bucket: loc.bucket, Key: o.Key! }));
          token = res.IsTruncated ? res.NextContinuationToken : undefined;
        } while (token);
      } finally {
        if (!('unavailable' in server)) await server.stop();
      }
    });

    const locations = new WeakMap<BlobStore, S3Location>();
    runBlobStoreSuite({
      name: 's3',
      create: async () => {
        const loc = location();
        const store = node(loc);
        locations.set(store, loc);
        return store;
      },
      contents: async (store) => {
        const loc = locations.get(store)!;
        const res = await (raw ??= createS3Client(location(runPrefix))).send(new ListObjectsV2Command({ Bucket: loc.bucket, Prefix: `${loc.prefix}/` }));
        return (res.Contents ?? []).map((o) => o.Key!.slice(loc.prefix.length + 1));
      },
      skip: [{ reason: 'S3 reads are requests, not positions in an open file', tests: ['open reads a blob at positions and refuses a missing one'] }],
      concurrency: 3,
      // Five parts of 5 MiB (partSize below) and a tail.
      largeBlobMiB: 26,
    });

    // Berth's own encryption over S3 (kmsProvider berth keys on an S3 deployment): staged uploads
    // are a chunk object plus record slots there too, each an S3 staged upload of its own.
    const key = { id: randomBytes(16), key: randomBytes(32) };
    const keys = { current: async () => key, byId: async () => key };
    runBlobStoreSuite({
      name: 'encrypted over s3',
      create: async () => createEncryptedBlobStore(node(location()), keys),
      concurrency: 3,
      largeBlobMiB: 26,
      skip: [
        {
          reason: 'presigning is withheld: a URL to the inner store would hand out ciphertext',
          tests: ['presignedUrl gives an http(s) URL for a stored blob'],
        },
        { reason: 'the encrypted store offers no handle on ciphertext', tests: ['open reads a blob at positions and refuses a missing one'] },
      ],
    });

    describe('on a real S3 server', { concurrency: 3 }, () => {
      const rawClient = () => (raw ??= createS3Client(location(runPrefix)));
      async function keys(loc: S3Location): Promise<string[]> {
        const res = await rawClient().send(new ListObjectsV2Command({ Bucket: loc.bucket, Prefix: `${loc.prefix}/` }));
        return (res.Contents ?? []).map((o) => o.Key!.slice(loc.prefix.length + 1)).sort();
      }

      it('spreads a > 5 MiB upload in odd-sized appends over two nodes and assembles it from parts', async () => {
        const loc = location();
        const [a, b] = [node(loc), node(loc)];
        const id = randomUUID();
        const sizes = [3 * MiB + 7, 1, 4 * MiB + 333, 17, 2 * MiB - 5, 6 * MiB + 1];
        const pieces = sizes.map((n, i) => bytes(n, 100 + i));
        let staged = 0;
        for (const [i, piece] of pieces.entries()) {
          const store = i % 2 === 0 ? a : b;
          const w = await store.writer(id, { append: true });
          assert.equal(w.size, staged, `writer ${i} sees what the other node staged`);
          assert.equal(await w.append(sourceOf(piece, 64 * 1024 + 3)), piece.length);
          staged += piece.length;
          await w.close();
          assert.equal(await (i % 2 === 0 ? b : a).statUpload(id), staged);
        }
        const all = Buffer.concat(pieces);
        assert.deepEqual(await readAll(await a.readUpload(id)), all);
        const w = await b.writer(id, { append: true });
        await w.commit(digestOf(all));
        assert.deepEqual(await readAll(await a.read(digestOf(all))), all);
        // 15 MiB + 354 bytes in 5 MiB parts: three parts and a tail, copied as four (a multipart
        // ETag ends in -<parts>; RGW 16 answers no PartsCount).
        const head = await rawClient().send(new HeadObjectCommand({ Bucket: loc.bucket, Key: `${loc.prefix}/blobs/sha256/${digestOf(all).slice(7)}` }));
        assert.match(head.ETag ?? '', /-4"?$/);
        assert.equal(head.ContentLength, all.length);
        // A range across the boundary of the first two parts.
        const got = await readAll(await b.read(digestOf(all), { start: 5 * MiB - 10, end: 5 * MiB + 9 }));
        assert.deepEqual(got, all.subarray(5 * MiB - 10, 5 * MiB + 10));
        assert.deepEqual(await keys(loc), [`blobs/sha256/${digestOf(all).slice(7)}`]);
      });

      it('resumes an upload on another node after the first writer closed', async () => {
        const loc = location();
        const id = randomUUID();
        const first = bytes(5 * MiB + 100, 200);
        const w1 = await node(loc).writer(id, { append: false });
        await w1.append(sourceOf(first));
        await w1.close();
        await assert.rejects(w1.append(sourceOf(bytes(1, 1))), /closed/);
        const second = bytes(300_000, 201);
        const other = node(loc);
        const w2 = await other.writer(id, { append: true });
        assert.equal(w2.size, first.length);
        await w2.append(sourceOf(second));
        const all = Buffer.concat([first, second]);
        // What a node does when the running hash lives elsewhere: re-hash the staged bytes.
        const rehash = createHash('sha256');
        for await (const c of await other.readUpload(id)) rehash.update(c as Buffer);
        assert.equal(`sha256:${rehash.digest('hex')}`, digestOf(all));
        await w2.commit(digestOf(all));
        assert.deepEqual(await readAll(await node(loc).read(digestOf(all))), all);
      });

      it('serves a presigned URL to plain fetch, ranges included, and expires it', async () => {
        const loc = location();
        const store = node(loc);
        const data = bytes(200_000, 300);
        const digest = await putBlob(store, data);
        const url = await store.presignedUrl!(digest, 60);
        const res = await fetch(url);
        assert.equal(res.status, 200);
        assert.deepEqual(Buffer.from(await res.arrayBuffer()), data);
        const ranged = await fetch(url, { headers: { Range: 'bytes=100-199' } });
        assert.equal(ranged.status, 206);
        assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), data.subarray(100, 200));
        const short = await store.presignedUrl!(digest, 1);
        await new Promise((r) => setTimeout(r, 2100));
        assert.equal((await fetch(short)).status, 403);
        await assert.rejects(store.presignedUrl!(digest, 0), RangeError);
      });

      it('commits idempotently and leaves no staged object behind', async () => {
        const loc = location();
        const store = node(loc);
        const data = bytes(6 * MiB, 400);
        const digest = await putBlob(store, data);
        const id = randomUUID();
        const w = await store.writer(id, { append: false });
        await w.append(sourceOf(data));
        const retry = await node(loc).writer(id, { append: true });
        await w.commit(digest);
        await retry.commit(digest);
        assert.equal(await store.statUpload(id), undefined);
        assert.deepEqual(await keys(loc), [`blobs/sha256/${digest.slice(7)}`]);
      });

      it('refuses staged bytes changed behind its back, leaving nothing under the digest', async () => {
        const loc = location();
        const store = node(loc);
        const id = randomUUID();
        const data = bytes(1000, 500);
        const w = await store.writer(id, { append: false });
        await w.append(sourceOf(data));
        await rawClient().send(new PutObjectCommand({ Bucket: loc.bucket, Key: `${loc.prefix}/uploads/${id}/tail.0`, Body: bytes(1000, 501) }));
        await assert.rejects(readAll(await store.readUpload(id)), { name: 'PreconditionFailed' });
        await assert.rejects(w.commit(digestOf(data)));
        assert.equal(await store.stat(digestOf(data)), undefined);
      });

      it('deleteUpload removes staged objects a crash left unrecorded', async () => {
        const loc = location();
        const store = node(loc);
        const id = randomUUID();
        const w = await store.writer(id, { append: false });
        await w.append(sourceOf(bytes(5 * MiB + 1, 600)));
        // As if a node died after storing the next part and the other tail slot, before the state.
        for (const leaf of ['part.2', 'tail.1']) {
          await rawClient().send(new PutObjectCommand({ Bucket: loc.bucket, Key: `${loc.prefix}/uploads/${id}/${leaf}`, Body: 'x' }));
        }
        assert.deepEqual(await keys(loc), [
          `uploads/${id}/part.1`,
          `uploads/${id}/part.2`,
          `uploads/${id}/state`,
          `uploads/${id}/tail.0`,
          `uploads/${id}/tail.1`,
        ]);
        const listed = [];
        for await (const u of store.listUploads!()) listed.push(u.id);
        assert.deepEqual(listed, [id]);
        await store.deleteUpload(id);
        assert.deepEqual(await keys(loc), []);
      });

      it('does not take a missing bucket for a missing blob', async () => {
        const store = node({ ...location(), bucket: 'berth-no-such-bucket' });
        await assert.rejects(store.read(digestOf('x')), (e: unknown) => e instanceof Error && !(e instanceof BlobNotFoundError) && e.name === 'NoSuchBucket');
      });

      it('keeps blobs under <prefix>/blobs/<alg>/<hex>, sha512 apart', async () => {
        const loc = location();
        const store = node(loc);
        const data = Buffer.from('five hundred and twelve');
        const digest = digestOf(data, 'sha512');
        await putBlob(store, data, digest);
        assert.deepEqual(await keys(loc), [`blobs/sha512/${digest.slice(7)}`]);
      });

      it('asks for SSE-KMS on every object it writes, staged parts included, and reads them back', async (t) => {
        if ('unavailable' in server || server.kmsKeys.length === 0) return t.skip('the S3 server has no KMS keys configured');
        const keyId = server.kmsKeys[0]!;
        const loc: S3Location = { ...location(), sse: { type: 'aws:kms', keyId } };
        const store = node(loc);
        const data = bytes(6 * MiB + 11, 700);
        const id = randomUUID();
        const w = await store.writer(id, { append: false });
        await w.append(sourceOf(data));
        const staged = await rawClient().send(new HeadObjectCommand({ Bucket: loc.bucket, Key: `${loc.prefix}/uploads/${id}/part.1` }));
        assert.deepEqual([staged.ServerSideEncryption, staged.SSEKMSKeyId], ['aws:kms', keyId]);
        const digest = digestOf(data);
        await w.commit(digest);
        const head = await rawClient().send(new HeadObjectCommand({ Bucket: loc.bucket, Key: `${loc.prefix}/blobs/sha256/${digest.slice(7)}` }));
        assert.deepEqual([head.ServerSideEncryption, head.SSEKMSKeyId], ['aws:kms', keyId]);
        assert.deepEqual(await readAll(await store.read(digest, { start: 5 * MiB - 3, end: 5 * MiB + 8 })), data.subarray(5 * MiB - 3, 5 * MiB + 9));
        const res = await fetch(await store.presignedUrl!(digest, 60));
        assert.equal(res.status, 200);
        assert.equal(
          createHash('sha256')
            .update(Buffer.from(await res.arrayBuffer()))
            .digest('hex'),
          digest.slice(7),
        );
      });

      it('fails a write under a key the S3 server does not know, leaving nothing', async (t) => {
        if ('unavailable' in server || server.kmsKeys.length === 0) return t.skip('the S3 server has no KMS keys configured');
        const loc: S3Location = { ...location(), sse: { type: 'aws:kms', keyId: 'no-such-key' } };
        const store = node(loc);
        const data = Buffer.from('refused');
        // The state object is written at once, under the key: the writer already fails.
        await assert.rejects(async () => {
          const w = await store.writer(randomUUID(), { append: false });
          await w.append(sourceOf(data));
          await w.commit(digestOf(data));
        }, /kms|key/i);
        assert.equal(await store.stat(digestOf(data)), undefined);
      });
    });
  });
