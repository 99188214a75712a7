import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { Codes, RegistryError } from '../core/errors.js';
import { sendOciError } from './errors.js';

// The core says what happened (hints); the /v2 renderer alone turns that into HTTP headers.
describe('sendOciError renders the hints of a RegistryError as /v2 headers', () => {
  const errors: Record<string, RegistryError> = {
    '/busy': new RegistryError(Codes.TooManyRequests, 'the blob is being garbage-collected', undefined, { retryAfterSeconds: 1 }),
    '/range': new RegistryError(Codes.RangeInvalid, 'requested range not satisfiable', undefined, { unsatisfiableRange: { size: 100 } }),
    '/plain': new RegistryError(Codes.BlobUnknown),
  };
  let server: Server;
  let base: string;
  before(async () => {
    server = createServer((req, res) => void sendOciError(req, res, errors[req.url ?? ''], pino({ level: 'silent' }), () => 'Basic'));
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((done) => server.close(() => done())));

  it('Retry-After when the client may try again', async () => {
    const r = await fetch(`${base}/busy`);
    assert.equal(r.status, 429);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.equal(r.headers.get('content-range'), null);
    assert.equal(((await r.json()) as { errors: { code: string }[] }).errors[0]?.code, 'TOOMANYREQUESTS');
  });

  it('Content-Range bytes */size when a range missed', async () => {
    const r = await fetch(`${base}/range`);
    assert.equal(r.status, 416);
    assert.equal(r.headers.get('content-range'), 'bytes */100');
    await r.body?.cancel();
  });

  it('neither without hints', async () => {
    const r = await fetch(`${base}/plain`);
    assert.equal(r.status, 404);
    assert.equal(r.headers.get('retry-after'), null);
    assert.equal(r.headers.get('content-range'), null);
    await r.body?.cancel();
  });
});
