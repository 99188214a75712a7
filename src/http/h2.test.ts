/**
 * The rapid-reset defence that does not depend on nghttp2's reset counting: a real h2 server from
 * createServerFor and a real client that opens streams and resets them at once while their
 * handlers go on working. Handlers are counted until they return: once the session has the
 * limit's worth running, new streams are refused, and a client that keeps opening them gets
 * GOAWAY ENHANCE_YOUR_CALM. Handlers here are the test's own (they wait for the test to release
 * them), standing for a handler that is slow to notice its stream was reset.
 */
import assert from 'node:assert/strict';
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createCertificateAuthority, createServerCertificate } from '../tls/dev-certificates.js';
import { createServerFor, type BerthServer } from './h2.js';
import { DEFAULT_SLOW_CLIENT_LIMITS } from './slow-clients.js';

const LIMIT = 4;

/** Resolves with the stream's RST code once it has closed (0 for an answered request). */
function closedWith(stream: ClientHttp2Stream): Promise<number> {
  return new Promise((resolve) => {
    stream.on('error', () => undefined);
    stream.resume();
    if (stream.destroyed) resolve(stream.rstCode ?? -1);
    else stream.once('close', () => resolve(stream.rstCode ?? -1));
  });
}

describe('h2 handlers in flight', () => {
  let server: BerthServer;
  let url: string;
  let ca: string;
  let started = 0;
  const waiting: Array<() => void> = [];

  before(async () => {
    const authority = createCertificateAuthority();
    const pair = createServerCertificate(authority, ['127.0.0.1']);
    ca = authority.cert;
    server = createServerFor(
      { cert: Buffer.from(pair.cert), key: Buffer.from(pair.key) },
      {},
      { ...DEFAULT_SLOW_CLIENT_LIMITS, maxConcurrentStreams: LIMIT, maxHeaderBytes: 16 * 1024 },
      async (req, res) => {
        started++;
        if (req.url === '/slow') await new Promise<void>((r) => waiting.push(r));
        if (!res.writableEnded && !res.destroyed) res.end('ok');
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const release of waiting.splice(0)) release();
    await new Promise<void>((r) => {
      server.close(() => r());
    });
  });

  const open = () =>
    new Promise<ClientHttp2Session>((resolve, reject) => {
      const s = connect(url, { ca });
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  /** Opens a stream, waits for the server to have started its handler, and resets it. */
  const openAndReset = async (s: ClientHttp2Session): Promise<number> => {
    const before = started;
    const stream = s.request({ ':path': '/slow' });
    const closed = closedWith(stream);
    for (let i = 0; i < 200 && started === before && !stream.destroyed; i++) await new Promise((r) => setTimeout(r, 5));
    stream.close(constants.NGHTTP2_CANCEL);
    return closed;
  };

  it('counts a reset stream until its handler returns, refuses beyond the limit, and serves again once handlers finish', async () => {
    const s = await open();
    try {
      for (let i = 0; i < LIMIT; i++) assert.equal(await openAndReset(s), constants.NGHTTP2_CANCEL);
      assert.equal(started, LIMIT);
      assert.equal(waiting.length, LIMIT, 'the reset streams’ handlers are still running');
      // Every stream nghttp2 knows of is closed, yet the next one is refused: LIMIT handlers run.
      const refused = s.request({ ':path': '/fast' });
      assert.equal(await closedWith(refused), constants.NGHTTP2_REFUSED_STREAM);
      assert.equal(started, LIMIT, 'no handler started for the refused stream');
      // Once the handlers return, the session is served again.
      for (const release of waiting.splice(0)) release();
      const answered = s.request({ ':path': '/fast' });
      let status = 0;
      answered.on('response', (h) => (status = Number(h[':status'])));
      await closedWith(answered);
      assert.equal(status, 200);
    } finally {
      s.destroy();
    }
  });

  it('sends GOAWAY ENHANCE_YOUR_CALM to a session that keeps opening streams while its handlers run', async () => {
    const s = await open();
    const goaway = new Promise<number>((resolve) => s.once('goaway', (code) => resolve(code)));
    s.on('error', () => undefined);
    try {
      for (let i = 0; i < LIMIT; i++) await openAndReset(s);
      // Refused streams, one after another, until the server gives up on the session.
      for (let i = 0; i < 500 && !s.destroyed && !s.closed; i++) await closedWith(s.request({ ':path': '/fast' }));
      assert.equal(await goaway, constants.NGHTTP2_ENHANCE_YOUR_CALM);
    } finally {
      for (const release of waiting.splice(0)) release();
      s.destroy();
    }
  });
});
