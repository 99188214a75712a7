/**
 * Every answer of the API port says `X-Content-Type-Options: nosniff`, whatever the door and
 * whether it succeeds: a browser must never read a blob, a manifest or an error that quotes the
 * caller's words as HTML. Read from outside with fetch, beside the headers that must survive it
 * (a HEAD's length, a range's Content-Range). Over h2 it is test/e2e/tls-http2.test.ts's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { getBlob, getManifest, makeImage, pushBlob, pushManifest, request } from '../e2e/helpers/registry-http.js';
import { MediaTypes } from '../e2e/helpers/oci-layout.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

describe('X-Content-Type-Options: nosniff on every answer', () => {
  let berth: BerthInProcess;
  const image = makeImage('sniff/app', 'v1', [Buffer.from('<html><script>alert(1)</script></html>')]);
  const layer = [...image.blobs.keys()][1]!;

  before(async () => {
    berth = await startInProcess();
    for (const [, blob] of image.blobs) assert.equal((await pushBlob(berth.url, image.repo, blob)).status, 201);
    assert.equal((await pushManifest(berth.url, image.repo, image.tag, image.manifest, MediaTypes.manifest)).status, 201);
  });
  after(async () => berth?.cleanup());

  const nosniff = (headers: Headers, what: string) => assert.equal(headers.get('x-content-type-options'), 'nosniff', what);

  it('on /v2: a blob (whole, HEAD, a range), a manifest, and errors', async () => {
    const blob = await getBlob(berth.url, image.repo, layer);
    assert.equal(blob.status, 200);
    assert.equal(blob.body.toString(), '<html><script>alert(1)</script></html>');
    nosniff(blob.headers, 'blob GET');
    const head = await getBlob(berth.url, image.repo, layer, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(Number(head.headers.get('content-length')), blob.body.length, 'a HEAD still says the length');
    nosniff(head.headers, 'blob HEAD');
    const range = await request(`${berth.url}/v2/${image.repo}/blobs/${layer}`, { headers: { Range: 'bytes=6-13' } });
    assert.equal(range.status, 206);
    assert.equal(range.headers.get('content-range'), `bytes 6-13/${blob.body.length}`);
    assert.equal(range.body.toString(), '<script>');
    nosniff(range.headers, 'blob range');
    const manifest = await getManifest(berth.url, image.repo, image.tag);
    assert.equal(manifest.status, 200);
    nosniff(manifest.headers, 'manifest GET');
    const missing = await getManifest(berth.url, image.repo, 'missing');
    assert.equal(missing.status, 404);
    nosniff(missing.headers, 'manifest error');
    const anonymous = await fetch(`${berth.url}/v2/${image.repo}/tags/list`);
    assert.equal(anonymous.status, 401);
    nosniff(anonymous.headers, '401');
    const nowhere = await fetch(`${berth.url}/no/such/endpoint`);
    assert.equal(nowhere.status, 404);
    nosniff(nowhere.headers, 'unknown path');
  });

  it('on the JSON and Query APIs (errors too), /token and /healthz', async () => {
    const json = await fetch(`${berth.url}/`, {
      method: 'POST',
      headers: { 'X-Amz-Target': 'AmazonEC2ContainerRegistry_V20150921.DescribeRepositories', 'Content-Type': 'application/x-amz-json-1.1' },
      body: '{}',
    });
    assert.equal(json.status, 403);
    nosniff(json.headers, 'JSON API error');
    const query = await fetch(`${berth.url}/`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'Action=ListUsers' });
    assert.equal(query.status, 403);
    nosniff(query.headers, 'Query API error');
    const token = await fetch(`${berth.url}/token?service=${encodeURIComponent(berth.host)}&scope=repository:sniff/app:pull`, {
      headers: { Authorization: berth.authorization },
    });
    assert.equal(token.status, 200, await token.clone().text());
    nosniff(token.headers, '/token');
    const health = await fetch(`${berth.url}/healthz`);
    assert.equal(health.status, 200);
    nosniff(health.headers, '/healthz');
  });
});
