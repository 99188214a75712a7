/**
 * A client that hangs up in the middle of an upload's body, over real HTTP to the real app in
 * process on the file-system driver (encrypted at rest, sealed on the byte threads): the server
 * lets go of the staged file, keeps what it recorded, and the upload resumes from the size it
 * reports to a blob whose bytes and digest are exact. The cut falls inside a 256 KiB chunk and
 * inside a ring slot. Conditions are waited for (open files, the upload's status), never a clock.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { asBody, getBlob, request, sha256, startUpload, uploadUrl } from '../e2e/helpers/registry-http.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const MiB = 1024 * 1024;

/** Files under `dir` this process holds open, but the metadata databases' (the registry's and the trail's, with their WAL and shm). */
function openBlobFiles(dir: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    if (target.startsWith(dir) && !/\/metadata[^/]*\.db/.test(target)) out.push(target);
  }
  return out;
}

/** Polls `probe` until it gives a value; the bound (minutes on an idle machine) only keeps a broken build from hanging. */
async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (let i = 0; i < 20_000; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`never: ${what}`);
}

describe('a client hanging up mid-upload', () => {
  let berth: BerthInProcess;
  before(async () => {
    berth = await startInProcess({ onDisk: true });
  });
  after(async () => berth?.cleanup());

  it('frees the staged file, and the upload resumes from what it reports to exact bytes', async () => {
    const data = randomBytes(6 * MiB + 12_345);
    const sent = 3 * MiB + 100_003;
    const location = await startUpload(berth.url, 'hangup/one');
    const url = new URL(location);
    const socket = connect(Number(url.port), url.hostname);
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.on('error', () => undefined);
    socket.write(
      [
        `PATCH ${url.pathname}${url.search} HTTP/1.1`,
        `Host: ${url.host}`,
        `Authorization: ${berth.authorization}`,
        'Content-Type: application/octet-stream',
        `Content-Length: ${data.length}`,
        '',
        '',
      ].join('\r\n'),
    );
    await new Promise<void>((r) => socket.write(data.subarray(0, sent), () => r()));
    // The server is appending: it holds the staged file open.
    await until('the staged file opened', () => (openBlobFiles(berth.dataDir).length > 0 ? true : undefined));
    socket.destroy();
    await until('every staged file closed', () => (openBlobFiles(berth.dataDir).length === 0 ? true : undefined));

    // The interrupted PATCH ends on the server after the file is closed (its size recorded, the
    // upload released): until then a resuming PATCH is refused as concurrent, changing nothing.
    let have = -1;
    const patched = await until('the upload resumed', async () => {
      const status = await request(location, { method: 'GET' });
      assert.equal(status.status, 204);
      const range = status.headers.get('range') ?? '';
      assert.match(range, /^0-\d+$/);
      have = Number(range.split('-')[1]) + 1;
      assert.ok(have <= sent, `${have} bytes recorded of ${sent} sent`);
      const r = await request(location, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${have}-${data.length - 1}` },
        body: asBody(data.subarray(have)),
      });
      if (r.status === 202) return r;
      if (r.status === 416 || /another request is writing/.test(r.body.toString())) return undefined;
      assert.fail(`resuming PATCH answered ${r.status}: ${r.body.toString()}`);
    });
    const put = await request(uploadUrl(berth.url, patched.headers.get('location')!, `digest=${sha256(data)}`), { method: 'PUT' });
    assert.equal(put.status, 201, put.body.toString());
    const got = await getBlob(berth.url, 'hangup/one', sha256(data));
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(data), 'the blob reads back exactly');
    assert.deepEqual(openBlobFiles(berth.dataDir), []);
  });
});
