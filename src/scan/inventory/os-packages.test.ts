import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { CorruptLayerError } from '../layers/errors.js';
import { ALPINE_APK_INSTALLED } from '../layers/testing/make-zstd-fixtures.js';
import { streamOf, tar, type TarSpec } from '../layers/testing/tar-writer.js';
import { ALPINE_SINGLE_FRAME } from '../layers/testing/zstd-fixtures.js';
import { osEcosystem } from './ecosystems.js';
import { inventoryOf } from './inventory.js';
import { parseOsRelease } from './os-release.js';
import { readRpmdb } from './rpm.js';
import { parseSourceRpm } from './rpm-header.js';
import { DEBIAN_OS_RELEASE, DPKG_STATUS, buildRpmHeader, buildRpmdb } from './testing/fixtures.js';
import type { OsInfo, Package } from './types.js';

const layer = (specs: TarSpec[]) => streamOf(gzipSync(tar(specs)), 4096);
const brief = (pkgs: Package[]) => pkgs.map((p) => [p.ecosystem, p.name, p.version, p.sourceName, p.sourceVersion]);

test('parses os-release quoting and escapes', () => {
  const f = parseOsRelease('# c\nNAME="Fancy \\"OS\\""\nID=fancy\nVERSION_ID=\'1.0\'\nBAD LINE\nEMPTY=\n');
  assert.deepEqual(f, { NAME: 'Fancy "OS"', ID: 'fancy', VERSION_ID: '1.0', EMPTY: '' });
});

test('maps distros to OSV ecosystem names', () => {
  const os = (id: string, versionId: string): OsInfo => ({ id, versionId, name: id, prettyName: id });
  assert.equal(osEcosystem(os('debian', '12'), 'dpkg'), 'Debian:12');
  assert.equal(osEcosystem(os('ubuntu', '22.04'), 'dpkg'), 'Ubuntu:22.04');
  assert.equal(osEcosystem(os('alpine', '3.19.1'), 'apk'), 'Alpine:v3.19');
  assert.equal(osEcosystem(os('rhel', '9.3'), 'rpm'), 'Red Hat');
  assert.equal(osEcosystem(os('almalinux', '9.3'), 'rpm'), 'AlmaLinux:9');
  assert.equal(osEcosystem(os('rocky', '9.2'), 'rpm'), 'Rocky Linux:9');
  assert.equal(osEcosystem(os('wolfi', '20230201'), 'apk'), 'Wolfi');
  assert.equal(osEcosystem(undefined, 'dpkg'), 'Debian');
  assert.equal(osEcosystem(os('plan9', '4'), 'dpkg'), 'plan9:4');
});

test('Debian: installed dpkg packages with their source packages', async () => {
  const inv = await inventoryOf([
    layer([
      { path: 'usr/lib/os-release', data: DEBIAN_OS_RELEASE },
      { path: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
      { path: 'var/lib/dpkg/status', data: DPKG_STATUS },
    ]),
  ]);
  assert.deepEqual(inv.os, { id: 'debian', versionId: '12', name: 'Debian GNU/Linux', prettyName: 'Debian GNU/Linux 12 (bookworm)' });
  assert.deepEqual(brief(inv.packages), [
    ['Debian:12', 'base-files', '12.4+deb12u5', 'base-files', '12.4+deb12u5'],
    ['Debian:12', 'libc6', '2.36-9+deb12u4', 'glibc', '2.36-9+deb12u4'],
    ['Debian:12', 'libssl3', '3.0.13-1~deb12u1', 'openssl', '3.0.11-1~deb12u2'],
    ['Debian:12', 'zlib1g', '1:1.2.13.dfsg-1', 'zlib', '1:1.2.13.dfsg-1'],
  ]);
  assert.ok(inv.packages.every((p) => p.path === 'var/lib/dpkg/status'));
});

test('Debian without VERSION_ID takes the release from debian_version', async () => {
  const inv = await inventoryOf([
    layer([
      { path: 'etc/os-release', data: 'ID=debian\nNAME="Debian GNU/Linux"\n' },
      { path: 'etc/debian_version', data: '12.5\n' },
      { path: 'var/lib/dpkg/status', data: 'Package: a\nStatus: install ok installed\nVersion: 1\n' },
    ]),
  ]);
  assert.equal(inv.packages[0]?.ecosystem, 'Debian:12');
});

test('distroless: one status.d file per package, md5sums ignored', async () => {
  const inv = await inventoryOf([
    layer([
      { path: 'etc/os-release', data: 'PRETTY_NAME="Distroless"\nNAME="Debian GNU/Linux"\nID="debian"\nVERSION_ID="12"\n' },
      { path: 'var/lib/dpkg/status.d/libc6', data: 'Package: libc6\nVersion: 2.36-9+deb12u7\nArchitecture: amd64\nSource: glibc\n' },
      { path: 'var/lib/dpkg/status.d/libc6.md5sums', data: 'd41d8cd98f00b204e9800998ecf8427e  lib/x86_64-linux-gnu/libc.so.6\n' },
      { path: 'var/lib/dpkg/status.d/tzdata', data: 'Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n' },
    ]),
  ]);
  assert.equal(inv.os?.prettyName, 'Distroless');
  assert.deepEqual(brief(inv.packages), [
    ['Debian:12', 'libc6', '2.36-9+deb12u7', 'glibc', '2.36-9+deb12u7'],
    ['Debian:12', 'tzdata', '2024a-0+deb12u1', 'tzdata', '2024a-0+deb12u1'],
  ]);
});

test('Ubuntu ecosystem comes from os-release', async () => {
  const inv = await inventoryOf([
    layer([
      { path: 'etc/os-release', data: 'NAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\nID_LIKE=debian\nPRETTY_NAME="Ubuntu 22.04.4 LTS"\n' },
      { path: 'var/lib/dpkg/status', data: 'Package: bash\nStatus: install ok installed\nVersion: 5.1-6ubuntu1.1\n\n' },
    ]),
  ]);
  assert.deepEqual(brief(inv.packages), [['Ubuntu:22.04', 'bash', '5.1-6ubuntu1.1', 'bash', '5.1-6ubuntu1.1']]);
});

test('Alpine: apk installed db with origins, from a zstd layer', async () => {
  const inv = await inventoryOf([streamOf(ALPINE_SINGLE_FRAME, 128)]);
  assert.equal(inv.os?.id, 'alpine');
  assert.deepEqual(brief(inv.packages), [
    ['Alpine:v3.19', 'busybox', '1.36.1-r15', 'busybox', '1.36.1-r15'],
    ['Alpine:v3.19', 'musl', '1.2.4_git20230717-r4', 'musl', '1.2.4_git20230717-r4'],
  ]);
  assert.ok(ALPINE_APK_INSTALLED.includes('o:musl'));
});

test('apk subpackages report their origin', async () => {
  const db = 'P:libcrypto3\nV:3.1.4-r5\no:openssl\n\nP:libssl3\nV:3.1.4-r5\no:openssl\n';
  const inv = await inventoryOf([
    layer([
      { path: 'etc/os-release', data: 'ID=alpine\nVERSION_ID=3.19.0\n' },
      { path: 'lib/apk/db/installed', data: db },
    ]),
  ]);
  assert.deepEqual(
    inv.packages.map((p) => [p.name, p.sourceName]),
    [
      ['libcrypto3', 'openssl'],
      ['libssl3', 'openssl'],
    ],
  );
});

test('RPM: packages from a sqlite rpmdb, with epochs and source rpms', async () => {
  const rpmdb = buildRpmdb([
    { name: 'bash', version: '5.1.8', release: '6.el9_1', sourceRpm: 'bash-5.1.8-6.el9_1.src.rpm' },
    { name: 'openssl-libs', version: '3.0.7', release: '25.el9_3', epoch: 1, sourceRpm: 'openssl-3.0.7-25.el9_3.src.rpm' },
    { name: 'gpg-pubkey', version: 'fd431d51', release: '4ae0493b' },
  ]);
  const inv = await inventoryOf([
    layer([
      { path: 'etc/os-release', data: 'NAME="Rocky Linux"\nVERSION_ID="9.3"\nID="rocky"\nPRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"\n' },
      { path: 'var/lib/rpm/rpmdb.sqlite', data: rpmdb },
    ]),
  ]);
  assert.deepEqual(brief(inv.packages), [
    ['Rocky Linux:9', 'bash', '5.1.8-6.el9_1', 'bash', '5.1.8-6.el9_1'],
    ['Rocky Linux:9', 'openssl-libs', '1:3.0.7-25.el9_3', 'openssl', '1:3.0.7-25.el9_3'],
  ]);
});

test('RPM: a WAL-mode rpmdb is read and its temp copy is removed', async () => {
  const headers = readRpmdb(buildRpmdb([{ name: 'glibc', version: '2.34', release: '83.el9' }], { wal: true }));
  assert.deepEqual(
    headers.map((h) => h.name),
    ['glibc'],
  );
});

test('RPM: damaged headers are skipped, a damaged database fails the scan', async () => {
  const bad = buildRpmHeader({ name: 'x', version: '1', release: '1' }).subarray(0, 20);
  assert.deepEqual(
    readRpmdb(buildRpmdb([bad, { name: 'ok', version: '1', release: '1' }])).map((h) => h.name),
    ['ok'],
  );
  assert.throws(() => readRpmdb(Buffer.from('SQLite format 3\0'.padEnd(4096, 'x'))), CorruptLayerError);
});

test('RPM: a Packages view is refused rather than queried', async () => {
  const db = buildRpmdb([]);
  // Same file with the table renamed away and a view in its place is built through sqlite.
  const { default: Database } = await import('better-sqlite3');
  const { mkdtempSync, writeFileSync, readFileSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'berth-scan-test-'));
  try {
    writeFileSync(join(dir, 'db'), db);
    const h = new Database(join(dir, 'db'));
    h.exec(
      'ALTER TABLE Packages RENAME TO P2; CREATE VIEW Packages AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT zeroblob(16) AS blob FROM c',
    );
    h.close();
    assert.throws(() => readRpmdb(readFileSync(join(dir, 'db'))), CorruptLayerError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('parses source rpm file names', () => {
  assert.deepEqual(parseSourceRpm('openssl-3.0.7-25.el9_3.src.rpm'), { name: 'openssl', version: '3.0.7', release: '25.el9_3' });
  assert.deepEqual(parseSourceRpm('python3-pip-21.2.3-7.el9.nosrc.rpm'), { name: 'python3-pip', version: '21.2.3', release: '7.el9' });
  assert.equal(parseSourceRpm('garbage'), undefined);
});
