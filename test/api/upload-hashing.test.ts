/**
 * Uploads hashed on the server's hashing threads, over real HTTP to the real app in process, its
 * blobs on the file-system driver as `berth serve` keeps them: many uploads of every flavour
 * at once each get their own digest right (a hash mixed up between uploads, or bytes hashed out
 * of order, would show as DIGEST_INVALID or a wrong blob), a wrong digest among them is refused,
 * and the blob size limit still ends a streamed upload whose bytes outrun it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { asBody, errorCode, getBlob, pushBlob, request, sha256, startUpload, uploadUrl } from '../e2e/helpers/registry-http.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const MiB = 1024 * 1024;

describe('uploads hashed off the event loop', () => {
  let berth: BerthInProcess;
  before(async () => {
    berth = await startInProcess({ onDisk: true, env: { BERTH_MAX_BLOB_BYTES: String(8 * MiB), BERTH_MAX_UPLOAD_SESSIONS: '100' } });
  });
  after(async () => berth?.cleanup());

  /** POST, three PATCHes with Content-Range, then an empty PUT: a chunked upload. */
  async function pushChunked(repo: string, data: Buffer): Promise<number> {
    let location = await startUpload(berth.url, repo);
    const step = Math.ceil(data.length / 3);
    for (let at = 0; at < data.length; at += step) {
      const part = data.subarray(at, at + step);
      const res = await request(location, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${at}-${at + part.length - 1}` },
        body: asBody(part),
      });
      assert.equal(res.status, 202, res.body.toString());
      location = uploadUrl(berth.url, res.headers.get('location')!);
    }
    return (await request(uploadUrl(berth.url, location, `digest=${sha256(data)}`), { method: 'PUT' })).status;
  }

  it('hashes 30 concurrent uploads of three flavours, each right, and refuses a wrong digest among them', async () => {
    const blobs = Array.from({ length: 30 }, (_, i) => randomBytes(MiB + i * 65_537));
    const statuses = await Promise.all(
      blobs.map((b, i) =>
        i % 3 === 0 ? pushChunked('hash/many', b) : pushBlob(berth.url, 'hash/many', b, i % 3 === 1 ? 'put' : 'patch').then((r) => r.status),
      ),
    );
    const liar = randomBytes(2 * MiB);
    const location = await startUpload(berth.url, 'hash/many');
    const lied = await request(uploadUrl(berth.url, location, `digest=${sha256(randomBytes(16))}`), { method: 'PUT', body: asBody(liar) });
    assert.deepEqual(
      statuses,
      blobs.map(() => 201),
    );
    assert.equal(lied.status, 400);
    assert.equal(errorCode(lied), 'DIGEST_INVALID');
    for (const b of blobs) {
      const got = await getBlob(berth.url, 'hash/many', sha256(b));
      assert.equal(got.status, 200);
      assert.ok(got.body.equals(b));
    }
    assert.equal((await getBlob(berth.url, 'hash/many', sha256(liar), 'HEAD')).status, 404);
  });

  it('still ends a streamed upload that exceeds the blob size limit, keeping nothing', async () => {
    const location = await startUpload(berth.url, 'hash/big');
    const big = randomBytes(9 * MiB);
    const res = await request(location, { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream' }, body: asBody(big) }).catch(
      // The server may answer and close before the client finished sending.
      () => undefined,
    );
    if (res) {
      assert.equal(res.status, 400);
      assert.equal(errorCode(res), 'SIZE_INVALID');
    }
    const status = await request(location);
    assert.equal(status.status, 404);
    assert.equal(errorCode(status), 'BLOB_UPLOAD_UNKNOWN');
    assert.equal((await getBlob(berth.url, 'hash/big', sha256(big), 'HEAD')).status, 404);
  });
});
