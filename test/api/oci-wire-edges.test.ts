/**
 * /v2 probed from outside as an external checker would, where the conformance suite does not
 * look: chunks out of order and sessions that must survive them, digests in every malformed form
 * on every endpoint that takes one, listing parameters at their edges, referrers around deletes,
 * blob ranges, and HTTP that no client library would send (over a raw socket).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';
import { openRaw, within, write } from '../e2e/helpers/raw-socket.js';
import { asBody, errorCode, getBlob, getManifest, pushBlob, pushManifest, request, sha256, startUpload, uploadUrl } from '../e2e/helpers/registry-http.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const EMPTY = 'application/vnd.oci.empty.v1+json';

describe('/v2 probed from outside', () => {
  let berth: BerthInProcess;
  let base: string;
  before(async () => {
    berth = await startInProcess();
    base = berth.url;
  });
  after(async () => berth?.cleanup());

  /** One raw request on its own connection (closed by the server after it); everything received. */
  async function raw(text: string | Buffer): Promise<string> {
    const c = await openRaw(berth.port);
    await write(c.socket, text);
    await within(c.closed, 10_000, 'the server closing the connection');
    return c.received();
  }
  const head = (lines: string[]) => `${lines.join('\r\n')}\r\nHost: berth\r\nAuthorization: ${berth.authorization}\r\nConnection: close\r\n\r\n`;
  const statusOf = (received: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1]);

  describe('uploads', () => {
    it('an overlapping or gapped chunk is 416 saying where the session stands; the session goes on, with or without Content-Range', async () => {
      const data = randomBytes(100);
      const url = await startUpload(base, 'up/chunks');
      const path = new URL(url).pathname;
      const first = await request(url, { method: 'PATCH', headers: { 'Content-Range': '0-49' }, body: asBody(data.subarray(0, 50)) });
      assert.equal(first.status, 202);
      for (const [start, end] of [
        [40, 59],
        [60, 69],
        [0, 49],
      ] as const) {
        const r = await request(url, { method: 'PATCH', headers: { 'Content-Range': `${start}-${end}` }, body: asBody(data.subarray(start, end + 1)) });
        assert.equal(r.status, 416, `${start}-${end}`);
        assert.equal(errorCode(r), 'BLOB_UPLOAD_INVALID');
        assert.equal(r.headers.get('range'), '0-49');
        assert.equal(r.headers.get('location'), path);
        assert.equal(r.headers.get('docker-upload-uuid'), path.split('/').pop());
      }
      const status = await request(url);
      assert.equal(status.status, 204);
      assert.equal(status.headers.get('range'), '0-49');
      assert.equal(status.headers.get('location'), path);
      // A chunk without Content-Range after chunked ones appends where the session stands.
      const plain = await request(url, { method: 'PATCH', body: asBody(data.subarray(50, 80)) });
      assert.equal(plain.status, 202);
      assert.equal(plain.headers.get('range'), '0-79');
      const done = await request(uploadUrl(base, url, `digest=${sha256(data)}`), {
        method: 'PUT',
        headers: { 'Content-Range': '80-99' },
        body: asBody(data.subarray(80)),
      });
      assert.equal(done.status, 201);
      assert.deepEqual((await getBlob(base, 'up/chunks', sha256(data))).body, data);
    });

    it('a final PUT whose digest does not match stores nothing and ends the session; a PUT or PATCH on an ended session is BLOB_UPLOAD_UNKNOWN', async () => {
      const data = randomBytes(64);
      const url = await startUpload(base, 'up/final');
      const wrong = await request(uploadUrl(base, url, `digest=${sha256('other')}`), { method: 'PUT', body: asBody(data) });
      assert.equal(wrong.status, 400);
      assert.equal(errorCode(wrong), 'DIGEST_INVALID');
      for (const d of [sha256(data), sha256('other')]) assert.equal((await getBlob(base, 'up/final', d, 'HEAD')).status, 404);
      assert.equal(errorCode(await request(url)), 'BLOB_UPLOAD_UNKNOWN');
      const next = await startUpload(base, 'up/final');
      assert.equal((await request(uploadUrl(base, next, `digest=${sha256(data)}`), { method: 'PUT', body: asBody(data) })).status, 201);
      for (const method of ['PUT', 'PATCH']) {
        const again = await request(uploadUrl(base, next, `digest=${sha256(data)}`), { method, body: asBody(data) });
        assert.equal(again.status, 404, method);
        assert.equal(errorCode(again), 'BLOB_UPLOAD_UNKNOWN', method);
      }
    });

    it('a malformed digest is 400 DIGEST_INVALID on every endpoint that takes one, never a 5xx, and opens or stores nothing', async () => {
      const data = randomBytes(32);
      await pushBlob(base, 'up/digests', data);
      const hex = sha256(data).slice('sha256:'.length);
      const forms = [
        `sha256:${hex.toUpperCase()}`,
        `sha256:${hex.slice(1)}`,
        `sha512:${hex}`,
        `sha384:${hex}${hex.slice(0, 32)}`,
        `md5:${hex.slice(0, 32)}`,
        'sha256:',
        `:${hex}`,
        hex,
      ];
      for (const d of forms) {
        const q = encodeURIComponent(d);
        const session = await startUpload(base, 'up/digests');
        const answers = [
          await request(`${base}/v2/up/digests/blobs/uploads/?digest=${q}`, { method: 'POST', body: asBody(data) }),
          await request(uploadUrl(base, session, `digest=${q}`), { method: 'PUT', body: asBody(data) }),
          await request(`${base}/v2/up/digests/blobs/${q}`),
          await request(`${base}/v2/up/digests/blobs/uploads/?mount=${q}&from=up/digests`, { method: 'POST' }),
          await request(`${base}/v2/up/digests/referrers/${q}`),
        ];
        for (const [i, r] of answers.entries()) {
          assert.equal(r.status, 400, `${d} #${i}: ${r.body.toString()}`);
          assert.equal(errorCode(r), 'DIGEST_INVALID', `${d} #${i}`);
        }
        const head = await request(`${base}/v2/up/digests/blobs/${q}`, { method: 'HEAD' });
        assert.equal(head.status, 400, `HEAD ${d}`);
        // A reference with a colon is a digest, so a malformed one is DIGEST_INVALID, not an unknown tag.
        assert.equal(errorCode(await getManifest(base, 'up/digests', q)), d === hex ? 'MANIFEST_UNKNOWN' : 'DIGEST_INVALID', d);
        await request(session, { method: 'DELETE' });
      }
    });

    it('several digest parameters that differ are DIGEST_INVALID, whichever is right; the same one twice is one', async () => {
      const data = randomBytes(24);
      for (const query of [`digest=${sha256(data)}&digest=${sha256('other')}`, `digest=${sha256('other')}&digest=${sha256(data)}`]) {
        const session = await startUpload(base, 'up/several');
        for (const r of [
          await request(uploadUrl(base, session, query), { method: 'PUT', body: asBody(data) }),
          await request(`${base}/v2/up/several/blobs/uploads/?${query}`, { method: 'POST', body: asBody(data) }),
        ]) {
          assert.equal(r.status, 400, query);
          assert.equal(errorCode(r), 'DIGEST_INVALID', query);
        }
        assert.equal((await getBlob(base, 'up/several', sha256(data), 'HEAD')).status, 404);
      }
      const same = await request(`${base}/v2/up/several/blobs/uploads/?digest=${sha256(data)}&digest=${sha256(data)}`, { method: 'POST', body: asBody(data) });
      assert.equal(same.status, 201);
    });

    it('a body shorter than its Content-Length, then a hang-up, completes nothing; the session stays open', async () => {
      const data = randomBytes(10);
      const url = await startUpload(base, 'up/short');
      const c = await openRaw(berth.port);
      const path = `${new URL(url).pathname}?digest=${sha256(data)}`;
      await write(c.socket, `PUT ${path} HTTP/1.1\r\nHost: berth\r\nAuthorization: ${berth.authorization}\r\nContent-Length: 20\r\n\r\n`);
      await write(c.socket, data);
      c.socket.end();
      await within(c.closed, 10_000, 'the server closing the connection');
      assert.ok(!/^HTTP\/1\.1 201/.test(c.received()), c.received());
      assert.equal((await getBlob(base, 'up/short', sha256(data), 'HEAD')).status, 404);
      assert.equal((await request(url)).status, 204, 'the session is still there to resume');
    });
  });

  describe('content discovery', () => {
    before(async () => {
      const config = Buffer.from('{}');
      await pushBlob(base, 'list/app', config);
      for (const tag of ['b', 'a', 'C', 'c', '10', '9', 'a-1', 'a.1', '_z']) {
        const m = Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: OCI_MANIFEST,
            config: { mediaType: EMPTY, digest: sha256(config), size: 2 },
            layers: [],
            annotations: { tag },
          }),
        );
        assert.equal((await pushManifest(base, 'list/app', tag, m, OCI_MANIFEST)).status, 201);
      }
    });
    const tags = async (query: string) => {
      const r = await request(`${base}/v2/list/app/tags/list${query}`);
      return { r, tags: r.status === 200 ? (JSON.parse(r.body.toString()) as { tags: string[] }).tags : undefined };
    };

    it('tags are in byte order; n pages with a Link to the next page; last need not be a tag', async () => {
      assert.deepEqual((await tags('')).tags, ['10', '9', 'C', '_z', 'a', 'a-1', 'a.1', 'b', 'c']);
      const page = await tags('?n=2');
      assert.deepEqual(page.tags, ['10', '9']);
      assert.equal(page.r.headers.get('link'), '</v2/list/app/tags/list?n=2&last=9>; rel="next"');
      assert.deepEqual((await tags('?n=2&last=a0')).tags, ['b', 'c'], 'last=a0 is no tag: the page starts after it');
      const end = await tags('?n=2&last=b');
      assert.deepEqual(end.tags, ['c']);
      assert.equal(end.r.headers.get('link'), null, 'the last page links nowhere');
      assert.deepEqual((await tags('?last=zz')).tags, []);
    });

    it('n=0 is an empty page; a negative, fractional, non-numeric or huge n is 400 PAGINATION_NUMBER_INVALID, on tags and the catalog', async () => {
      assert.deepEqual((await tags('?n=0')).tags, []);
      assert.equal((await tags('?n=999999999')).tags?.length, 9, 'an n past maxPageSize is a full page, not an error');
      const none = await request(`${base}/v2/_catalog?n=0`);
      assert.deepEqual(JSON.parse(none.body.toString()), { repositories: [] });
      for (const n of ['-1', '1.5', 'abc', '99999999999']) {
        for (const path of ['/v2/list/app/tags/list', '/v2/_catalog']) {
          const r = await request(`${base}${path}?n=${n}`);
          assert.equal(r.status, 400, `${path} n=${n}`);
          assert.equal(errorCode(r), 'PAGINATION_NUMBER_INVALID');
        }
      }
      const after = await request(`${base}/v2/_catalog?n=5&last=zzz`);
      assert.deepEqual(JSON.parse(after.body.toString()), { repositories: [] });
    });
  });

  describe('referrers', () => {
    const config = Buffer.from('{}');
    const image = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: EMPTY, digest: sha256(config), size: 2 }, layers: [] }),
    );
    const referrer = (artifactType: string, n: string) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          artifactType,
          config: { mediaType: EMPTY, digest: sha256(config), size: 2 },
          layers: [{ mediaType: EMPTY, digest: sha256(config), size: 2 }],
          subject: { mediaType: OCI_MANIFEST, digest: sha256(image), size: image.length },
          annotations: { n },
        }),
      );
    const listed = async (query = '') => {
      const r = await request(`${base}/v2/ref/app/referrers/${sha256(image)}${query}`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-type'), OCI_INDEX);
      const index = JSON.parse(r.body.toString()) as { schemaVersion: number; mediaType: string; manifests: Array<{ digest: string }> };
      assert.equal(index.schemaVersion, 2);
      assert.equal(index.mediaType, OCI_INDEX);
      return { r, digests: index.manifests.map((m) => m.digest).sort() };
    };

    it('a referrer pushed before its subject is accepted with OCI-Subject and listed; the subject and a client-kept fallback tag do not disturb it', async () => {
      await pushBlob(base, 'ref/app', config);
      const sig = referrer('application/x-sig', 'sig');
      const early = await pushManifest(base, 'ref/app', sha256(sig), sig, OCI_MANIFEST);
      assert.equal(early.status, 201);
      assert.equal(early.headers.get('oci-subject'), sha256(image));
      assert.deepEqual((await listed()).digests, [sha256(sig)]);
      // A client of the fallback scheme keeps its own index under the sha256-<hex> tag; the API never writes it.
      const fallbackTag = `sha256-${sha256(image).slice('sha256:'.length)}`;
      const fallback = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }));
      assert.equal((await pushManifest(base, 'ref/app', fallbackTag, fallback, OCI_INDEX)).status, 201);
      assert.equal((await pushManifest(base, 'ref/app', 'v1', image, OCI_MANIFEST)).status, 201);
      const sbom = referrer('application/x-sbom', 'sbom');
      assert.equal((await pushManifest(base, 'ref/app', sha256(sbom), sbom, OCI_MANIFEST)).status, 201);
      assert.deepEqual((await getManifest(base, 'ref/app', fallbackTag)).body, fallback, 'the fallback tag is the client’s, untouched');
      assert.deepEqual((await listed()).digests, [sha256(sig), sha256(sbom)].sort());
      const filtered = await listed('?artifactType=application/x-none');
      assert.equal(filtered.r.headers.get('oci-filters-applied'), 'artifactType');
      assert.deepEqual(filtered.digests, []);
    });

    it('a deleted referrer leaves the list; a deleted subject leaves its remaining referrers listed and pullable', async () => {
      const sig = referrer('application/x-sig', 'sig');
      const sbom = referrer('application/x-sbom', 'sbom');
      assert.equal((await request(`${base}/v2/ref/app/manifests/${sha256(sig)}`, { method: 'DELETE' })).status, 202);
      assert.deepEqual((await listed()).digests, [sha256(sbom)]);
      assert.equal((await request(`${base}/v2/ref/app/manifests/${sha256(image)}`, { method: 'DELETE' })).status, 202);
      assert.deepEqual((await listed()).digests, [sha256(sbom)]);
      assert.equal((await getManifest(base, 'ref/app', sha256(sbom))).status, 200);
    });
  });

  it('blob ranges: first byte, suffix, open end, clamped end, several ranges (the whole blob), past the end (416); HEAD has length and digest', async () => {
    const data = randomBytes(100);
    await pushBlob(base, 'blob/ranges', data);
    const url = `${base}/v2/blob/ranges/blobs/${sha256(data)}`;
    for (const [range, status, contentRange, bytes] of [
      ['bytes=0-0', 206, 'bytes 0-0/100', data.subarray(0, 1)],
      ['bytes=-10', 206, 'bytes 90-99/100', data.subarray(90)],
      ['bytes=90-', 206, 'bytes 90-99/100', data.subarray(90)],
      ['bytes=99-200', 206, 'bytes 99-99/100', data.subarray(99)],
      ['bytes=-200', 206, 'bytes 0-99/100', data],
      ['bytes=0-1,5-6', 200, null, data],
      ['bytes=100-', 416, 'bytes */100', undefined],
      ['bytes=5-2', 416, 'bytes */100', undefined],
    ] as const) {
      const r = await request(url, { headers: { Range: range } });
      assert.equal(r.status, status, range);
      assert.equal(r.headers.get('content-range'), contentRange, range);
      if (bytes) assert.deepEqual(r.body, bytes, range);
    }
    const h = await request(url, { method: 'HEAD' });
    assert.equal(h.status, 200);
    assert.equal(h.headers.get('content-length'), '100');
    assert.equal(h.headers.get('docker-content-digest'), sha256(data));
    assert.equal(h.body.length, 0);
  });

  describe('HTTP no client library sends', () => {
    it('oversized headers are 431 and close the connection; the server answers the next one', async () => {
      const got = await raw(head(['GET /v2/ HTTP/1.1', `X-Big: ${'a'.repeat(80_000)}`]));
      assert.equal(statusOf(got), 431);
      assert.equal(statusOf(await raw(head(['GET /v2/ HTTP/1.1']))), 200);
    });

    it('a chunked PATCH with a malformed chunk is 400; the session keeps what came whole and completes from where it says', async () => {
      const data = randomBytes(40);
      const url = await startUpload(base, 'http/chunks');
      assert.equal((await request(url, { method: 'PATCH', headers: { 'Content-Range': '0-9' }, body: asBody(data.subarray(0, 10)) })).status, 202);
      const path = new URL(url).pathname;
      const bad = Buffer.concat([
        Buffer.from(
          `PATCH ${path} HTTP/1.1\r\nHost: berth\r\nAuthorization: ${berth.authorization}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\na\r\n`,
        ),
        data.subarray(10, 20),
        Buffer.from('\r\nZZ\r\nxx\r\n0\r\n\r\n'),
      ]);
      assert.equal(statusOf(await raw(bad)), 400);
      // The refused request's whole chunk may still be landing when the status is read (the 400
      // went out first): a 416 then says where the session stands, and the client resumes there.
      const status = await request(url);
      assert.equal(status.status, 204);
      const offset = (r: { headers: Headers }) => Number(r.headers.get('range')!.split('-')[1]) + 1;
      let have = offset(status);
      let done = await putRest(have);
      for (let tries = 0; done.status === 416 && tries < 20; tries++) done = await putRest((have = offset(done)));
      assert.ok(have === 10 || have === 20, `holds ${have} bytes`);
      assert.equal(done.status, 201, `${have}: ${done.body.toString()}`);
      function putRest(from: number) {
        return request(uploadUrl(base, url, `digest=${sha256(data)}`), {
          method: 'PUT',
          headers: { 'Content-Range': `${from}-39` },
          body: asBody(data.subarray(from)),
        });
      }
      assert.deepEqual((await getBlob(base, 'http/chunks', sha256(data))).body, data);
    });

    it('Expect: 100-continue on a monolithic PUT is answered 100, then 201 for the body', async () => {
      const data = randomBytes(16);
      const url = await startUpload(base, 'http/expect');
      const c = await openRaw(berth.port);
      const path = `${new URL(url).pathname}?digest=${sha256(data)}`;
      await write(
        c.socket,
        `PUT ${path} HTTP/1.1\r\nHost: berth\r\nAuthorization: ${berth.authorization}\r\nExpect: 100-continue\r\nContent-Length: 16\r\nConnection: close\r\n\r\n`,
      );
      await within(c.head, 10_000, 'the interim response');
      assert.match(c.received(), /^HTTP\/1\.1 100 Continue\r\n/);
      await write(c.socket, data);
      await within(c.closed, 10_000, 'the final response');
      assert.match(c.received(), /\r\n\r\nHTTP\/1\.1 201 Created\r\n/);
      assert.deepEqual((await getBlob(base, 'http/expect', sha256(data))).body, data);
    });

    it('methods: one no route has is 405 UNSUPPORTED naming the allowed ones in Allow; one HTTP does not know is 400 from the parser', async () => {
      for (const [method, path, allow] of [
        ['PROPFIND', '/v2/list/app/tags/list', 'GET'],
        ['POST', '/v2/list/app/manifests/a', 'GET, HEAD, PUT, DELETE'],
        ['PATCH', `/v2/list/app/blobs/${sha256('x')}`, 'GET, HEAD, DELETE'],
        ['GET', '/v2/list/app/blobs/uploads/', 'POST'],
        ['POST', '/v2/list/app/blobs/uploads/some-id', 'GET, PUT, PATCH, DELETE'],
        ['PUT', '/v2/_catalog', 'GET'],
        ['DELETE', '/v2/', 'GET, HEAD'],
        ['HEAD', `/v2/list/app/referrers/${sha256('x')}`, 'GET'],
      ]) {
        const got = await raw(head([`${method} ${path} HTTP/1.1`, 'Content-Length: 0']));
        assert.equal(statusOf(got), 405, `${method} ${path}`);
        assert.match(got, new RegExp(`\\r\\nAllow: ${allow}\\r\\n`, 'i'), `${method} ${path}: ${got}`);
        if (method !== 'HEAD') assert.match(got, /"code":"UNSUPPORTED"/);
      }
      // Node's parser refuses a method it does not know before any route is looked at.
      assert.equal(statusOf(await raw(head(['FOO /v2/list/app/manifests/a HTTP/1.1']))), 400);
    });

    it('a GET with a body answers as without one', async () => {
      const got = await raw(
        `GET /v2/list/app/tags/list HTTP/1.1\r\nHost: berth\r\nAuthorization: ${berth.authorization}\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`,
      );
      assert.equal(statusOf(got), 200);
      assert.match(got, /"name":"list\/app"/);
    });

    it('paths: // in a name is NAME_INVALID; %2F and dot segments resolve before the name is read, to a name checked and authorized as any', async () => {
      const cases: Array<[string, number, string | RegExp]> = [
        ['/v2/list//app/tags/list', 400, '"NAME_INVALID"'],
        ['/v2/list/app//tags/list', 400, '"NAME_INVALID"'],
        ['/v2/list%2Fapp/tags/list', 200, '"name":"list/app"'],
        ['/v2/list%2F..%2Fapp/tags/list', 400, '"NAME_INVALID"'],
        ['/v2/other/../list/app/tags/list', 200, '"name":"list/app"'],
        ['/v2/other/%2e%2e/list/app/tags/list', 200, '"name":"list/app"'],
        ['/v2/list/app/', 404, '"NOT_FOUND"'],
        ['/v2/%zz/tags/list', 400, '"NAME_INVALID"'],
      ];
      for (const [path, status, body] of cases) {
        const got = await raw(head([`GET ${path} HTTP/1.1`]));
        assert.equal(statusOf(got), status, path);
        assert.ok(got.includes(body as string), `${path}: ${got.slice(-200)}`);
      }
      // Anonymous, the encoded form is refused as the plain one is.
      const anon = await raw(`GET /v2/list%2Fapp/tags/list HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(anon), 401);
    });
  });
});
