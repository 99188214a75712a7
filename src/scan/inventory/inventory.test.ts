import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ScanError, ScanLimitError, UnsupportedImageError } from '../layers/errors.js';
import { header, streamOf, tar, type TarSpec } from '../layers/testing/tar-writer.js';
import { inventoryOf } from './inventory.js';
import { DEBIAN_OS_RELEASE, DPKG_STATUS, SAMPLE_MODINFO, buildGoElf, buildZip, pomProperties } from './testing/fixtures.js';

const layer = (specs: TarSpec[]) => streamOf(gzipSync(tar(specs)), 8192);
const site = 'usr/local/lib/python3.11/site-packages';

test('a multi-layer Debian application image, with whiteouts in upper layers', async () => {
  const base = layer([
    { path: 'etc/', type: 'dir' },
    { path: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
    { path: 'usr/lib/os-release', data: DEBIAN_OS_RELEASE },
    { path: 'var/lib/dpkg/status', data: DPKG_STATUS },
  ]);
  const deps = layer([
    { path: `${site}/requests-2.31.0.dist-info/METADATA`, data: 'Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n' },
    { path: `${site}/urllib3-2.0.7.dist-info/METADATA`, data: 'Metadata-Version: 2.1\nName: urllib3\nVersion: 2.0.7\n' },
    {
      path: 'app/lib/guava.jar',
      data: buildZip([
        { name: 'META-INF/maven/com.google.guava/guava/pom.properties', data: pomProperties('com.google.guava', 'guava', '31.0-jre'), deflate: true },
      ]),
    },
    { path: 'app/bin/server', data: buildGoElf({ format: 'inline', goVersion: 'go1.21.5', modinfo: SAMPLE_MODINFO }), mode: 0o755 },
  ]);
  // An upgrade layer: urllib3 replaced (old dist-info whited out), dpkg status rewritten
  // without libssl3, the jar deleted.
  const upgrade = layer([
    { path: `${site}/.wh.urllib3-2.0.7.dist-info` },
    { path: `${site}/urllib3-2.2.1.dist-info/METADATA`, data: 'Metadata-Version: 2.1\nName: urllib3\nVersion: 2.2.1\n' },
    { path: 'var/lib/dpkg/status', data: DPKG_STATUS.replace(/Package: libssl3[\s\S]*?\n\n/, '') },
    { path: 'app/lib/.wh.guava.jar' },
  ]);
  const inv = await inventoryOf([base, deps, upgrade]);
  assert.equal(inv.os?.versionId, '12');
  assert.deepEqual(
    inv.packages.map((p) => `${p.ecosystem} ${p.name}@${p.version}`),
    [
      'Debian:12 base-files@12.4+deb12u5',
      'Debian:12 libc6@2.36-9+deb12u4',
      'Debian:12 zlib1g@1:1.2.13.dfsg-1',
      'Go github.com/example/app@1.4.2',
      'Go github.com/google/uuid@1.3.0',
      'Go golang.org/x/net@0.23.0',
      'Go stdlib@1.21.5',
      'PyPI requests@2.31.0',
      'PyPI urllib3@2.2.1',
    ],
  );
});

test('an image with nothing recognizable is UNSUPPORTED_IMAGE', async () => {
  const staticBinary = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), Buffer.alloc(4096)]);
  await assert.rejects(inventoryOf([layer([{ path: 'hello', data: staticBinary, mode: 0o755 }])]), (e: unknown) => {
    assert.ok(e instanceof UnsupportedImageError);
    assert.equal(e.status, 'UNSUPPORTED_IMAGE');
    return true;
  });
});

test('an OS with no packages is a complete, empty inventory', async () => {
  const inv = await inventoryOf([layer([{ path: 'etc/os-release', data: 'ID=alpine\nVERSION_ID=3.19.0\nNAME="Alpine Linux"\n' }])]);
  assert.deepEqual(inv, { os: { id: 'alpine', versionId: '3.19.0', name: 'Alpine Linux', prettyName: 'Alpine Linux' }, packages: [] });
});

test('corrupt layers and exceeded limits are FAILED', async () => {
  const gz = gzipSync(tar([{ path: 'var/lib/dpkg/status', data: DPKG_STATUS }]));
  await assert.rejects(inventoryOf([streamOf(gz.subarray(0, gz.length - 30))]), (e: unknown) => {
    assert.ok(e instanceof ScanError);
    assert.equal(e.status, 'FAILED');
    assert.equal(e.reason, 'corrupt');
    return true;
  });
  const bomb = gzipSync(Buffer.concat([header({ name: 'z', size: 32 * 1024 * 1024, flag: '0' }), Buffer.alloc(32 * 1024 * 1024)]));
  await assert.rejects(inventoryOf([streamOf(bomb)], { ratioGraceBytes: 1024 * 1024 }), (e: unknown) => {
    assert.ok(e instanceof ScanLimitError);
    assert.equal(e.status, 'FAILED');
    return true;
  });
});

test('a package database too large to read fails the scan, unless an upper layer removed it', async () => {
  const padded = DPKG_STATUS + `Description: padding\n${' x\n'.repeat(5000)}`;
  const image = (extra: TarSpec[]) => [
    layer([
      { path: 'etc/os-release', data: DEBIAN_OS_RELEASE },
      { path: 'var/lib/dpkg/status', data: padded },
    ]),
    layer(extra),
  ];
  await assert.rejects(inventoryOf(image([]), { maxTextFileBytes: 10_000 }), (e: unknown) => {
    assert.ok(e instanceof ScanLimitError);
    assert.match(e.message, /var\/lib\/dpkg\/status/);
    return true;
  });
  const inv = await inventoryOf(image([{ path: 'var/lib/dpkg/status', data: DPKG_STATUS }]), { maxTextFileBytes: 10_000 });
  assert.equal(inv.packages.length, 4);
});

test('unknown limit names are rejected', async () => {
  await assert.rejects(inventoryOf([], { maxBogus: 1 } as never), TypeError);
});
