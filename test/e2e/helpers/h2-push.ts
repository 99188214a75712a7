/**
 * A blob pushed over h2 (node:http2), for tests of a TLS Berth: fetch cannot be given a CA, so
 * the push goes through an h2 session of its own.
 */
import { connect as h2connect } from 'node:http2';
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
