/** AppendStream: gathered writes keep every byte in order, whatever the chunking. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, describe, it } from 'node:test';
import { AppendStream } from './append-stream.js';

describe('AppendStream', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'append-stream-'));
  after(() => rm(dir, { recursive: true, force: true }));

  it('appends every byte in order: tiny chunks past the writev limit, large ones, and a remainder at the end', async () => {
    const path = join(dir, 'a');
    await writeFile(path, 'before|');
    const data = randomBytes(3 * 1024 * 1024 + 333);
    // 3000 one-to-nine-byte chunks (more than IOV_MAX per write), then 64 KiB chunks, then an odd tail.
    const chunks: Buffer[] = [];
    let at = 0;
    for (let i = 0; i < 3000; i++) {
      const n = (i % 9) + 1;
      chunks.push(data.subarray(at, at + n));
      at += n;
    }
    for (; at < data.length; at += 65_536) chunks.push(data.subarray(at, at + 65_536));
    await pipeline(Readable.from(chunks), new AppendStream(path, 1024 * 1024));
    assert.deepEqual(await readFile(path), Buffer.concat([Buffer.from('before|'), data]));
  });

  it('fails on a path it cannot open, writing nothing', async () => {
    await assert.rejects(pipeline(Readable.from([Buffer.from('x')]), new AppendStream(join(dir, 'missing', 'f'), 1024)), { code: 'ENOENT' });
  });
});
