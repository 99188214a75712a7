/**
 * A blob file cut short under a running Berth while a download reads it through a mapping
 * (native/file-map.cc): without the SIGBUS guard the read past the file's new end kills the whole
 * server; with it that download is cut (short body), the log names the file, and the server goes
 * on serving other blobs exactly, and still stops gracefully on SIGTERM or SIGINT. Both ways a
 * download is written (by the main thread from the ring, and by its opening thread: threadSends),
 * and both openers (the native one, and Node's crypto reading the views).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, truncate } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBerth, type BerthProcess } from './helpers/berth-process.js';
import { pushBlob, request, sha256 } from './helpers/registry-http.js';
import { waitFor } from './helpers/wait-for.js';

/** The committed file of a blob, found under the data directory by its digest. */
async function blobFile(dir: string, hex: string): Promise<string | undefined> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const found = await blobFile(p, hex);
      if (found) return found;
    } else if (e.name === hex && p.includes(`${join('blobs', 'sha256')}`)) return p;
  }
  return undefined;
}

/** A GET on a raw socket, read as the test says: counts the body's bytes until the server closes. */
class SlowGet {
  readonly socket: Socket;
  head = '';
  body = 0;
  closed = false;
  private raw = Buffer.alloc(0);
  constructor(berth: BerthProcess, path: string) {
    this.socket = connect(berth.port, '127.0.0.1');
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: ${berth.host}\r\nAuthorization: ${berth.authorization}\r\nConnection: close\r\n\r\n`);
    this.socket.on('data', (d: Buffer) => {
      if (this.head) {
        this.body += d.length;
        return;
      }
      this.raw = Buffer.concat([this.raw, d]);
      const end = this.raw.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.head = this.raw.subarray(0, end).toString();
      this.body = this.raw.length - end - 4;
    });
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => (this.closed = true));
  }
  get length(): number {
    return Number(/content-length: (\d+)/i.exec(this.head)?.[1] ?? -1);
  }
}

const variants: Array<{ how: string; env: Record<string, string>; stop: NodeJS.Signals; said?: string }> = [
  { how: ', written by the main thread', env: { BERTH_THREAD_SENDS: 'false' }, stop: 'SIGTERM' },
  { how: ', sent by its opening thread', env: {}, stop: 'SIGINT' },
  // The JS opener: Node's own OpenSSL reads the views.
  { how: ", deciphered with Node's crypto", env: { BERTH_NATIVE_CIPHER: 'off' }, stop: 'SIGTERM', said: "decipher with Node's crypto" },
];

for (const { how, env, stop, said } of variants) {
  describe(`a blob file truncated under its download's mapping${how}`, () => {
    let berth: BerthProcess;
    before(async () => {
      // Mapped reads are not the default (config downloadReads): asked for here.
      berth = await startBerth({ env: { BERTH_LOG_LEVEL: 'info', BERTH_DOWNLOAD_READS: 'mapped', ...env } });
    });
    after(async () => {
      await berth?.cleanup();
    });

    it('cuts that download, logs the file, and the server lives on and serves another blob exactly', async () => {
      const big = randomBytes(48 * 1024 * 1024);
      const other = randomBytes(9 * 1024 * 1024 + 5);
      for (const b of [big, other]) assert.equal((await pushBlob(berth.url, 'guard/app', b)).status, 201);
      const file = await blobFile(berth.dataDir, sha256(big).slice(7));
      assert.ok(file, 'the blob file is on disk');

      const get = new SlowGet(berth, `/v2/guard/app/blobs/${sha256(big)}`);
      await waitFor('the first MiBs of the body', () => get.body >= 2 * 1024 * 1024);
      get.socket.pause();
      assert.match(get.head, /^HTTP\/1\.1 200/);
      assert.equal(get.length, big.length);
      // The server holds at most its ring and the socket's buffers ahead of the reader: the rest of
      // the 48 MiB is read from the file after this.
      await truncate(file, 100_000);
      get.socket.resume();
      await waitFor('the download to end', () => get.closed);
      assert.ok(get.body < big.length, `the download is cut (${get.body} of ${big.length} bytes)`);
      assert.ok(get.body >= 2 * 1024 * 1024);

      assert.equal(berth.child.exitCode, null, `the server is alive:\n${berth.output().slice(-2000)}`);
      assert.equal(berth.child.signalCode, null);
      const again = await request(`${berth.url}/v2/guard/app/blobs/${sha256(other)}`);
      assert.equal(again.status, 200);
      assert.equal(createHash('sha256').update(again.body).digest('hex'), sha256(other).slice(7));

      const logged = await waitFor('the failure logged', () =>
        berth
          .output()
          .split('\n')
          .find((l) => l.includes('is truncated or unreadable')),
      );
      assert.ok(logged.includes(file), `the log names the file: ${logged}`);
      assert.ok(!/integrity/i.test(logged), `not blamed on the blob's bytes: ${logged}`);
      if (said) assert.ok(berth.output().includes(said), `the server says: ${said}`);

      // Node's own signal handling is untouched by the guard's handler: a graceful stop still exits 0.
      const exited = new Promise<number | null>((res) => berth.child.once('exit', (code) => res(code)));
      berth.child.kill(stop);
      assert.equal(await exited, 0, `stopped by ${stop}:\n${berth.output().slice(-2000)}`);
    });
  });
}
