import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CorruptLayerError, ScanLimitError } from './errors.js';
import { readTar, type TarEntry } from './tar.js';
import { entry, header, pad, streamOf, tar } from './testing/tar-writer.js';

async function entries(buf: Buffer, opts = { maxMetadataBytes: 1 << 20 }): Promise<Array<TarEntry & { data: string }>> {
  const out: Array<TarEntry & { data: string }> = [];
  await readTar(streamOf(buf, 97), opts, async (e, body) => {
    const parts: Buffer[] = [];
    for await (const p of body.pieces()) parts.push(Buffer.from(p));
    out.push({ ...e, data: Buffer.concat(parts).toString() });
  });
  return out;
}

test('reads ustar entries of every kind with their bodies', async () => {
  const got = await entries(
    tar([
      { path: 'etc/', type: 'dir' },
      { path: 'etc/hostname', data: 'berth\n', mode: 0o600 },
      { path: 'etc/localtime', type: 'symlink', linkname: '/usr/share/zoneinfo/UTC' },
      { path: 'etc/hostname2', type: 'hardlink', linkname: 'etc/hostname' },
      { path: 'dev/fifo', type: 'fifo' },
    ]),
  );
  assert.deepEqual(
    got.map((e) => [e.path, e.type, e.size, e.linkname, e.data]),
    [
      ['etc/', 'dir', 0, '', ''],
      ['etc/hostname', 'file', 6, '', 'berth\n'],
      ['etc/localtime', 'symlink', 0, '/usr/share/zoneinfo/UTC', ''],
      ['etc/hostname2', 'hardlink', 0, 'etc/hostname', ''],
      ['dev/fifo', 'other', 0, '', ''],
    ],
  );
  assert.equal(got[1]!.mode, 0o600);
});

test('joins the ustar prefix field with the name', async () => {
  const h = header({ name: 'status', size: 2, flag: '0' });
  h.write('var/lib/dpkg', 345, 155, 'utf8');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  const got = await entries(Buffer.concat([h, Buffer.from('ok'), pad(2), Buffer.alloc(1024)]));
  assert.equal(got[0]!.path, 'var/lib/dpkg/status');
  assert.equal(got[0]!.data, 'ok');
});

test('applies GNU long names and long link names', async () => {
  const long = `usr/lib/${'x'.repeat(150)}/package.json`;
  const target = `opt/${'y'.repeat(140)}`;
  const got = await entries(
    tar([
      { path: long, data: '{}', longNames: 'gnu' },
      { path: 'short', type: 'symlink', linkname: target, longNames: 'gnu' },
      { path: 'after', data: 'a' },
    ]),
  );
  assert.deepEqual(
    got.map((e) => [e.path, e.linkname, e.data]),
    [
      [long, '', '{}'],
      ['short', target, ''],
      ['after', '', 'a'],
    ],
  );
});

test('applies PAX path, linkpath and size to the next entry only', async () => {
  const long = `app/node_modules/${'@scope/'.repeat(20)}pkg/package.json`;
  const got = await entries(
    tar([
      { path: long, data: 'pax' },
      { path: 'l', type: 'symlink', linkname: 'z'.repeat(120) },
      { path: 'plain', data: 'p', pax: { 'SCHILY.xattr.user.x': 'y', mtime: '1.5' } },
    ]),
  );
  assert.deepEqual(
    got.map((e) => [e.path, e.linkname, e.data]),
    [
      [long, '', 'pax'],
      ['l', 'z'.repeat(120), ''],
      ['plain', '', 'p'],
    ],
  );
});

test('a PAX size overrides the header size field', async () => {
  const body = 'twelve bytes';
  const buf = Buffer.concat([entry({ path: 'f', data: body, sizeField: 0, pax: { size: String(body.length) } }), Buffer.alloc(1024)]);
  const got = await entries(buf);
  assert.equal(got[0]!.size, 12);
  assert.equal(got[0]!.data, body);
});

test('entries left unread are skipped, and reading may stop early', async () => {
  const seen: string[] = [];
  await readTar(
    streamOf(
      tar([
        { path: 'a', data: 'A'.repeat(5000) },
        { path: 'b', data: 'B'.repeat(3000) },
        { path: 'c', data: 'C' },
      ]),
      333,
    ),
    { maxMetadataBytes: 1024 },
    async (e, body) => {
      if (e.path === 'b') {
        for await (const p of body.pieces()) {
          seen.push(`b:${p.length > 0}`);
          break;
        }
      }
      seen.push(e.path);
    },
  );
  assert.deepEqual(seen, ['a', 'b:true', 'b', 'c']);
});

test('an archive stopping on a block boundary without the end marker is truncated: a CorruptLayerError', async () => {
  const whole = tar([
    { path: 'a', data: 'x' },
    { path: 'b', data: 'y' },
  ]);
  await assert.rejects(entries(tar([{ path: 'a', data: 'x' }], { end: false })), CorruptLayerError);
  // Cut between two entries: everything read so far was well-formed, and still it is not whole.
  await assert.rejects(entries(whole.subarray(0, 1024)), /truncated.*end-of-archive/);
});

test("an empty stream is an empty archive, and one zero block ends it as Go's reader allows", async () => {
  assert.deepEqual(await entries(Buffer.alloc(0)), []);
  const oneZeroBlock = tar([{ path: 'a', data: 'x' }]).subarray(0, 1024 + 512);
  assert.deepEqual(
    (await entries(oneZeroBlock)).map((e) => e.path),
    ['a'],
  );
});

test('a bad header checksum is a CorruptLayerError', async () => {
  const buf = tar([{ path: 'a', data: 'x' }]);
  buf[0] = 'b'.charCodeAt(0);
  await assert.rejects(entries(buf), CorruptLayerError);
});

test('a stream truncated inside a body or header is a CorruptLayerError', async () => {
  const buf = tar([{ path: 'a', data: 'x'.repeat(2000) }]);
  await assert.rejects(entries(buf.subarray(0, 1500)), CorruptLayerError);
  await assert.rejects(entries(buf.subarray(0, 300)), CorruptLayerError);
});

test('malformed PAX records and numbers are CorruptLayerErrors', async () => {
  const badPax = Buffer.from('99 path=x\n');
  const a = Buffer.concat([header({ name: 'p', size: badPax.length, flag: 'x' }), badPax, pad(badPax.length), tar([{ path: 'a' }])]);
  await assert.rejects(entries(a), CorruptLayerError);
  const h = header({ name: 'n', size: 0, flag: '0' });
  h.write('99999999999z', 124, 12, 'latin1');
  await assert.rejects(entries(Buffer.concat([h, Buffer.alloc(1024)])), CorruptLayerError);
});

test('oversized metadata entries hit the metadata limit', async () => {
  const huge = `${'d/'.repeat(600)}f`;
  await assert.rejects(entries(tar([{ path: huge, data: 'x' }]), { maxMetadataBytes: 512 }), (e: unknown) => {
    assert.ok(e instanceof ScanLimitError);
    assert.equal(e.limit, 'maxTarMetadataBytes');
    return true;
  });
});

test('base-256 size fields are decoded', async () => {
  const h = header({ name: 'big', size: 2 ** 34, flag: '0' });
  assert.equal(h[124], 0x80);
  let seen = 0;
  const stream = streamOf(Buffer.concat([h, Buffer.alloc(100)]));
  await assert.rejects(
    readTar(stream, { maxMetadataBytes: 1024 }, async (e) => {
      seen = e.size;
    }),
    CorruptLayerError,
  );
  assert.equal(seen, 2 ** 34);
});
