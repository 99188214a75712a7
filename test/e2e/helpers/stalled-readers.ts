/**
 * Clients that read a response slowly or not at all, over raw sockets (no HTTP client library
 * stops reading on purpose), and the access log's lines that say what Berth did about them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readdir, readlink } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import type { BerthProcess } from './berth-process.js';

/** The access log's `cut` for a response the response rule gave up (http/slow-clients.ts). */
export const CUT = 'response taken below the minimum rate';

/** Blob files (under the data directory's blobs/) the server process holds open. */
export async function openBlobFiles(berth: BerthProcess): Promise<number> {
  const dir = `/proc/${berth.child.pid}/fd`;
  let n = 0;
  for (const fd of await readdir(dir).catch(() => [])) {
    if ((await readlink(`${dir}/${fd}`).catch(() => '')).startsWith(join(berth.dataDir, 'blobs'))) n++;
  }
  return n;
}

export function accessLines(file: string): Array<Record<string, unknown>> {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A raw connection that sends one GET and reads nothing until `readOn` is called. */
export interface Stalled {
  socket: Socket;
  /** Reads everything left; resolves with all the bytes received once the server closed the connection. */
  readOn(): Promise<Buffer>;
}

export function stalledGet(socket: Socket, path: string, host: string, authorization?: string): Stalled {
  const chunks: Buffer[] = [];
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  socket.pause();
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${authorization ? `Authorization: ${authorization}\r\n` : ''}\r\n`);
  return {
    socket,
    async readOn() {
      socket.resume();
      await closed;
      return Buffer.concat(chunks);
    },
  };
}

/** The body of an HTTP/1.1 answer with Content-Length (what follows the head). */
export function bodyOf(answer: Buffer): Buffer {
  const end = answer.indexOf('\r\n\r\n');
  assert.ok(end > 0, 'an answer head came');
  return answer.subarray(end + 4);
}

/**
 * Reads a GET's answer at about `bytesPerTick` per 50 ms tick (pausing the socket in between),
 * and resolves with the body once Content-Length bytes arrived.
 */
export function pacedGet(
  port: number,
  path: string,
  host: string,
  authorization: string,
  bytesPerTick: number,
  /** Opens the connection: plain TCP unless given (a TLS one, say). */
  open: () => Socket = () => netConnect(port, '127.0.0.1'),
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = open();
    const chunks: Buffer[] = [];
    let got = 0;
    let budget = bytesPerTick;
    const tick = setInterval(() => {
      budget = bytesPerTick;
      socket.resume();
    }, 50);
    const done = (e?: Error): void => {
      clearInterval(tick);
      socket.destroy();
      if (e) reject(e);
      else resolve(bodyOf(Buffer.concat(chunks)));
    };
    socket.on('error', done);
    socket.on('close', () => done(new Error(`the connection closed after ${got} bytes`)));
    /** The whole answer's length once its head is in (head, blank line and Content-Length bytes). */
    let total = Number.NaN;
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      // The head is looked for only until found: joining every piece received at each piece cost
      // the reader O(n²) copies (a 48 MiB body in 16 KiB TLS records: some 75 GB), so slow on a loaded
      // machine that it stopped taking bytes for whole windows and the response rule rightly cut it.
      if (Number.isNaN(total)) {
        const all = Buffer.concat(chunks);
        const end = all.indexOf('\r\n\r\n');
        if (end > 0) total = end + 4 + Number(/\r\ncontent-length: (\d+)/i.exec(all.subarray(0, end).toString('latin1'))?.[1]);
      }
      if (got >= total) {
        socket.removeAllListeners('close');
        done();
        return;
      }
      budget -= d.length;
      if (budget <= 0) socket.pause();
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: ${authorization}\r\n\r\n`);
  });
}
