import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { streamOf, tar, type TarSpec } from '../layers/testing/tar-writer.js';
import { inventoryOf } from './inventory.js';
import { scanArchive } from './java.js';
import { buildZip, pomProperties } from './testing/fixtures.js';
import { readCentralDirectory, readEntry, ZipError } from './zip.js';

const layer = (specs: TarSpec[]) => streamOf(gzipSync(tar(specs)), 4096);

const guava = buildZip([
  { name: 'META-INF/MANIFEST.MF', data: 'Manifest-Version: 1.0\n', deflate: true },
  { name: 'com/google/common/base/Strings.class', data: Buffer.alloc(3000, 7), deflate: true },
  { name: 'META-INF/maven/com.google.guava/guava/pom.properties', data: pomProperties('com.google.guava', 'guava', '32.1.2-jre'), deflate: true },
  { name: 'META-INF/maven/com.google.guava/guava/pom.xml', data: '<project/>' },
]);

test('reads pom.properties from a jar, stored and deflated', async () => {
  const stored = buildZip([{ name: 'META-INF/maven/org.slf4j/slf4j-api/pom.properties', data: pomProperties('org.slf4j', 'slf4j-api', '2.0.9') }]);
  const inv = await inventoryOf([
    layer([
      { path: 'opt/app/lib/guava-32.1.2-jre.jar', data: guava },
      { path: 'opt/app/lib/slf4j-api-2.0.9.jar', data: stored },
    ]),
  ]);
  assert.deepEqual(
    inv.packages.map((p) => [p.ecosystem, p.name, p.version, p.path]),
    [
      ['Maven', 'com.google.guava:guava', '32.1.2-jre', 'opt/app/lib/guava-32.1.2-jre.jar'],
      ['Maven', 'org.slf4j:slf4j-api', '2.0.9', 'opt/app/lib/slf4j-api-2.0.9.jar'],
    ],
  );
});

test('opens archives nested one level (Spring Boot fat jar), not deeper', async () => {
  const deepest = buildZip([{ name: 'META-INF/maven/x/deep/pom.properties', data: pomProperties('x', 'deep', '1') }]);
  const inner = buildZip([
    { name: 'META-INF/maven/org.yaml/snakeyaml/pom.properties', data: pomProperties('org.yaml', 'snakeyaml', '1.33'), deflate: true },
    { name: 'lib/deeper.jar', data: deepest },
  ]);
  const boot = buildZip([
    { name: 'META-INF/maven/com.example/app/pom.properties', data: pomProperties('com.example', 'app', '0.0.1-SNAPSHOT') },
    { name: 'BOOT-INF/lib/snakeyaml-1.33.jar', data: inner },
    { name: 'BOOT-INF/lib/guava.jar', data: guava, deflate: true },
  ]);
  const inv = await inventoryOf([layer([{ path: 'app.jar', data: boot }])]);
  assert.deepEqual(
    inv.packages.map((p) => [p.name, p.version, p.path]),
    [
      ['com.example:app', '0.0.1-SNAPSHOT', 'app.jar'],
      ['com.google.guava:guava', '32.1.2-jre', 'app.jar!BOOT-INF/lib/guava.jar'],
      ['org.yaml:snakeyaml', '1.33', 'app.jar!BOOT-INF/lib/snakeyaml-1.33.jar'],
    ],
  );
});

test('an executable jar with a launcher script prepended still reads', () => {
  const jar = buildZip([{ name: 'META-INF/maven/a/b/pom.properties', data: pomProperties('a', 'b', '2') }], {
    prefix: Buffer.from('#!/bin/sh\nexec java -jar "$0" "$@"\n'),
  });
  assert.deepEqual(scanArchive(jar, { remaining: 1 << 20 }, undefined), [{ name: 'a:b', version: '2', inner: undefined }]);
});

test('a zip bomb entry stops at the inflate budget', () => {
  const bomb = buildZip([{ name: 'BOOT-INF/lib/bomb.jar', data: Buffer.alloc(20 * 1024 * 1024), deflate: true }]);
  assert.ok(bomb.length < 100 * 1024);
  const [entry] = readCentralDirectory(bomb);
  assert.throws(() => readEntry(bomb, entry!, 1024 * 1024), ZipError);
  assert.deepEqual(scanArchive(bomb, { remaining: 1024 * 1024 }, undefined), []);
});

test('a corrupt or oversized jar costs only its own packages', async () => {
  const inv = await inventoryOf(
    [
      layer([
        { path: 'etc/os-release', data: 'ID=debian\nVERSION_ID=12\n' },
        { path: 'bad.jar', data: Buffer.from('PK\x03\x04 definitely not a zip file') },
        { path: 'big.jar', data: guava },
      ]),
    ],
    { maxArchiveBytes: guava.length - 1 },
  );
  assert.deepEqual(inv.packages, []);
  assert.equal(inv.os?.id, 'debian');
});
