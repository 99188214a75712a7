/**
 * Requests over h2 (node:http2), for tests of a TLS Berth: fetch cannot be given a CA, so
 * they go through an h2 session (a blob push, or one raw request).
 */
import { connect as h2connect, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { BerthProcess } from './berth-process.js';
import { sha256 } from './registry-http.js';

/** Pushes `blob` to `repo` (POST, then PUT with the digest), returning the PUT's status. */
export async function h2put(berth: BerthProcess, ca: Buffer, repo: string, blob: Buffer): Promise<number> {
  const session = h2connect(berth.url, { ca });
  try {
    const ask = (headers: Record<string, string>, body?: Buffer) =>
      new Promise<{ status: number; location: string }>((resolve, reject) => {
        const s = session.request({ authorization: berth.authorization, ...headers }, { endStream: !body });
        let status = 0;
        let location = '';
        s.on('response', (h) => {
          status = Number(h[':status']);
          location = String(h.location ?? '');
        });
        s.on('data', () => undefined);
        s.on('end', () => resolve({ status, location }));
        s.on('error', reject);
        if (body) s.end(body);
      });
    const started = await ask({ ':method': 'POST', ':path': `/v2/${repo}/blobs/uploads/` });
    const url = new URL(started.location, berth.url);
    url.searchParams.set('digest', sha256(blob));
    const put = await ask({ ':method': 'PUT', ':path': `${url.pathname}${url.search}`, 'content-type': 'application/octet-stream' }, blob);
    return put.status;
  } finally {
    session.close();
  }
}

export interface H2Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One request on an h2 session; `body` chunks are written one by one, the last ending the stream. */
export function h2request(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body: Buffer[] = []): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body.length === 0 });
    let status = 0;
    let got: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      status = Number(h[':status']);
      got = h;
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ status, headers: got, body: Buffer.concat(chunks) }));
    stream.on('error', reject);
    for (const [i, chunk] of body.entries()) {
      if (i === body.length - 1) stream.end(chunk);
      else stream.write(chunk);
    }
  });
}
