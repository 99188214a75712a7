/**
 * Uploads sealed as bytes come (src/blobstore/encrypted/streamed-chunk.ts), through a real Berth
 * (fs driver, encryption at rest on, byte threads) and curl: a chunked upload whose PATCHes end
 * inside a 64 KiB chunk, exactly on its edge and one byte past it leaves, after each, the whole
 * chunks and then the tail's ciphertext in the staged file (no plaintext held for it anywhere,
 * and nothing rebased), and commits to a blob that reads back exact and holds no plaintext.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { DEFAULT_CHUNK_SIZE as CHUNK, HEADER_SIZE, TAG_SIZE, ciphertextSize } from '../../src/blobstore/encrypted/chunk-format.js';
import { nativeSeal } from '../../src/blobstore/encrypted/native-seal.js';
import { startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { sha256, startUpload } from './helpers/registry-http.js';

const run = promisify(execFile);

/** Every file under `dir` named `name`. */
async function find(dir: string, name: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile() && e.name === name) out.push(join(e.parentPath, e.name));
  return out;
}

describe('uploads sealed as bytes come, through Berth and curl', { skip: nativeSeal() ? undefined : 'the sealer addon is not built' }, () => {
  let berth: BerthProcess;
  before(async () => {
    berth = await startBerth();
  });
  after(async () => {
    await berth?.cleanup();
  });

  /** curl sends `body` with `method`; returns the status and the Location header. */
  async function curl(method: string, url: string, body: Buffer, headers: string[] = []): Promise<{ status: number; location: string | undefined }> {
    const dir = await tempDir('berth-streamed-');
    await writeFile(join(dir, 'body'), body);
    const { stdout } = await run('curl', [
      '-sS',
      '-X',
      method,
      '-H',
      `Authorization: ${berth.authorization}`,
      '-H',
      'Content-Type: application/octet-stream',
      ...headers.flatMap((h) => ['-H', h]),
      '--data-binary',
      `@${join(dir, 'body')}`,
      '-D',
      '-',
      '-o',
      '/dev/null',
      url,
    ]);
    const status = Number(/^HTTP\/[\d.]+ (\d+)/m.exec(stdout)?.[1]);
    const location = /^location: (.*)\r?$/im.exec(stdout)?.[1]?.trim();
    return { status, location: location && new URL(location, berth.url).toString() };
  }

  it('PATCHes ending in a chunk, on its edge and past it: whole chunks then the tail, stored; the blob exact, no plaintext at rest', async () => {
    const lengths = [CHUNK - 1, 1, CHUNK, 17, 3 * CHUNK + 100_000, 1];
    const data = randomBytes(lengths.reduce((a, b) => a + b, 0) + 16);
    let location = await startUpload(berth.url, 'streamed/app');
    const id = new URL(location).pathname.split('/').pop()!;
    let total = 0;
    for (const n of lengths) {
      const r = await curl('PATCH', location, data.subarray(total, total + n), [`Content-Range: ${total}-${total + n - 1}`]);
      assert.equal(r.status, 202);
      total += n;
      location = r.location!;
      const [staged, ...more] = await find(berth.dataDir, id);
      assert.ok(staged && more.length === 0, `the chunk object of ${id}, never rebased: ${[staged, ...more]}`);
      const whole = Math.ceil(total / CHUNK) - 1;
      assert.equal((await stat(staged)).size, HEADER_SIZE + whole * (CHUNK + TAG_SIZE) + (total - whole * CHUNK), `after ${total} bytes`);
    }
    const url = new URL(location);
    url.searchParams.set('digest', sha256(data));
    const put = await curl('PUT', url.toString(), data.subarray(total), [`Content-Range: ${total}-${data.length - 1}`]);
    assert.equal(put.status, 201);
    const out = await tempDir('berth-streamed-out-');
    const got = await run('curl', [
      '-sS',
      '-H',
      `Authorization: ${berth.authorization}`,
      `${berth.url}/v2/streamed/app/blobs/${sha256(data)}`,
      '-o',
      join(out, 'blob'),
      '-w',
      '%{http_code}',
    ]);
    assert.equal(got.stdout, '200');
    assert.ok((await readFile(join(out, 'blob'))).equals(data), 'read back exact');
    const [blob] = await find(berth.dataDir, sha256(data).slice(7));
    const stored = await readFile(blob!);
    assert.equal(stored.length, ciphertextSize(data.length, CHUNK));
    for (const at of [0, CHUNK - 40, 2 * CHUNK + 5, data.length - 40])
      assert.equal(stored.indexOf(data.subarray(at, at + 32)), -1, `no plaintext at rest (${at})`);
  });
});
