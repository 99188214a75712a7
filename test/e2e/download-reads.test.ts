/**
 * How a download reads its blob file (config downloadReads), seen from outside through a real
 * Berth and curl: by default with preads, so no window of the file is ever mapped into the
 * server; with `mapped`, through a mapping, which the server's /proc/<pid>/maps shows. Each
 * download is held part-way (curl's output is not read, so curl stops reading its socket) until
 * the server has the blob file open and has sent the first bytes, which it does only after its
 * first read of the file; then the maps are looked at, and the rest is read and must be exact.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startBerth, type BerthProcess } from './helpers/berth-process.js';
import { pushBlob, sha256 } from './helpers/registry-http.js';
import { openBlobFiles } from './helpers/stalled-readers.js';
import { waitFor } from './helpers/wait-for.js';

const linux = process.platform === 'linux';
const MiB = 1024 * 1024;

/** Lines of the server's memory map that map a file under its blobs directory. */
async function mappedBlobFiles(berth: BerthProcess): Promise<string[]> {
  const maps = await readFile(`/proc/${berth.child.pid}/maps`, 'utf8');
  return maps.split('\n').filter((l) => l.includes(join(berth.dataDir, 'blobs')));
}

/** Downloads `url` with curl, holding it part-way to call `during`, then reading the rest; the body's digest and what `during` returned. */
async function heldDownload<T>(url: string, authorization: string, during: () => Promise<T>): Promise<{ digest: string; seen: T }> {
  const curl = spawn('curl', ['-sS', '-H', `Authorization: ${authorization}`, url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  curl.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => curl.once('close', resolve));
  const hash = createHash('sha256');
  // The first bytes are taken, then none until `during` is done: curl's pipe fills, it stops
  // reading its socket, and the server's part of the download waits with its file open.
  const first = await new Promise<Buffer>((resolve) => curl.stdout.once('data', resolve));
  curl.stdout.pause();
  hash.update(first);
  const seen = await during();
  curl.stdout.on('data', (d: Buffer) => hash.update(d));
  curl.stdout.resume();
  assert.equal(await exited, 0, `curl failed: ${err}`);
  return { digest: `sha256:${hash.digest('hex')}`, seen };
}

describe('how downloads read their blob files (downloadReads)', { skip: !linux && 'reads /proc' }, () => {
  const servers: BerthProcess[] = [];
  after(async () => {
    for (const b of servers) await b.cleanup();
  });
  // Larger than a mapped window (8 MiB) and than the ring and socket buffers together, so the
  // download is still reading its file while held.
  const blob = randomBytes(40 * MiB + 12345);
  const digest = sha256(blob);

  for (const [name, env, mapped] of [
    ['by default, with preads: no window of the file is mapped', {}, false],
    ['with downloadReads mapped, through a mapping of the file', { BERTH_DOWNLOAD_READS: 'mapped' }, true],
  ] as const) {
    it(name, async () => {
      const berth = await startBerth({ env });
      servers.push(berth);
      assert.equal((await pushBlob(berth.url, 'reads/app', blob)).status, 201);
      const { digest: got, seen } = await heldDownload(`${berth.url}/v2/reads/app/blobs/${digest}`, berth.authorization, async () => {
        await waitFor('the download has its blob file open', async () => (await openBlobFiles(berth)) > 0);
        return mappedBlobFiles(berth);
      });
      assert.equal(got, digest, 'the body is the blob');
      if (mapped) assert.ok(seen.length > 0, 'a window of the blob file was mapped while the download read it');
      else assert.deepEqual(seen, [], 'no part of a blob file was mapped');
    });
  }
});
