/**
 * A blob GET read the way curl and Go's clients (docker, containerd, skopeo) read one: every socket
 * read lands in the same buffer (`net`'s `onread`), the response head is parsed here and the body
 * counted against its Content-Length. Node's HTTP client instead takes a fresh 64 KiB buffer per
 * read and copies each body piece into another, and that memory sets off a full collection every
 * ~18 MiB: measured in session 23 on the PVM machine, 1.9–2.1 CPU-s per GiB for Node's client
 * against 0.2–0.4 for this reader, from both servers alike (notes/2026-12-06-s23-pull.md). So the
 * Node-client line measures its client; this one leaves the CPU to the servers.
 *
 * Only what a registry's blob GET answers: HTTP/1.1, a Content-Length body. Anything else (a
 * chunked body, a status other than 200, a connection closed early) fails the pull.
 */
import { connect } from 'node:net';

/** One read's size, as Node's own client reads (so reads per GiB compare between the two). */
const READ_BYTES = 64 * 1024;
/** A head larger than this is not a registry's blob answer. */
const MAX_HEAD = 64 * 1024;

export interface ReadCount {
  reads: number;
}

/** GETs `url` on a connection of its own; resolves with the body's bytes. */
export function reusedBufferGet(url: string, headers: Record<string, string>, buffer: Buffer, count: ReadCount): Promise<number> {
  const u = new URL(url);
  if (u.protocol !== 'http:') return Promise.reject(new Error(`${url}: only http:`));
  return new Promise((resolve, reject) => {
    let head = '';
    let status = 0;
    let want = -1;
    let got = 0;
    let settled = false;
    const done = (e: Error | undefined) => {
      if (settled) return;
      settled = true;
      sock.destroy();
      if (e) reject(e);
      else resolve(want);
    };
    const onHead = (text: string): Error | undefined => {
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return text.length > MAX_HEAD ? new Error(`GET ${url}: response head over ${MAX_HEAD} bytes`) : undefined;
      const lines = text.slice(0, end).split('\r\n');
      status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
      const length = lines.find((l) => /^content-length:/i.test(l));
      if (status !== 200) return new Error(`GET ${url} answered ${status || lines[0]}`);
      if (lines.some((l) => /^transfer-encoding:/i.test(l)) || length === undefined)
        return new Error(`GET ${url}: no Content-Length (this reader counts only such bodies)`);
      want = Number(length.slice(length.indexOf(':') + 1).trim());
      got = text.length - (end + 4);
      return undefined;
    };
    const sock = connect({
      host: u.hostname,
      port: Number(u.port || 80),
      onread: {
        buffer,
        // Always true (keep reading): a finished or failed GET destroys its socket instead.
        callback: (n: number): boolean => {
          count.reads++;
          if (want < 0) {
            // latin1: one character per byte, so the body's bytes after the head count right.
            head += buffer.toString('latin1', 0, n);
            const e = onHead(head);
            if (e) done(e);
            if (e || want < 0) return true;
            head = '';
          } else got += n;
          if (got > want) done(new Error(`GET ${url}: ${got} body bytes against Content-Length ${want}`));
          else if (got === want) done(undefined);
          return true;
        },
      },
    });
    sock.on('error', (e) => done(e));
    sock.on('close', () => done(new Error(`GET ${url}: connection closed after ${Math.max(got, 0)} of ${want < 0 ? '?' : want} body bytes`)));
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
    // Connection: close, as Node's client sends with `agent: false`: each blob on a connection of its own.
    sock.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n${lines.join('')}\r\n`);
  });
}

/** A read buffer for reusedBufferGet: one per process, reused by every GET. */
export const readBuffer = (): Buffer => Buffer.allocUnsafe(READ_BYTES);
