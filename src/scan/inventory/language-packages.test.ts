import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { streamOf, tar, type TarSpec } from '../layers/testing/tar-writer.js';
import { inventoryOf } from './inventory.js';
import { lockfilePackages } from './npm.js';
import { parseGemspecName } from './ruby.js';
import type { Package } from './types.js';

const layer = (specs: TarSpec[]) => streamOf(gzipSync(tar(specs)), 4096);
const brief = (pkgs: Package[]) => pkgs.map((p) => [p.ecosystem, p.name, p.version, p.path]);

const LOCK_V3 = {
  name: 'web',
  version: '1.0.0',
  lockfileVersion: 3,
  requires: true,
  packages: {
    '': { name: 'web', version: '1.0.0', dependencies: { express: '^4.18.2' }, devDependencies: { typescript: '^5.3.0' } },
    'node_modules/express': { version: '4.18.2', resolved: 'https://registry.npmjs.org/express/-/express-4.18.2.tgz', integrity: 'sha512-x' },
    'node_modules/express/node_modules/debug': { version: '2.6.9', resolved: 'https://registry.npmjs.org/debug/-/debug-2.6.9.tgz' },
    'node_modules/@types/node': { version: '20.10.0', dev: true },
    'node_modules/typescript': { version: '5.3.3', dev: true },
    'node_modules/string-width-cjs': { name: 'string-width', version: '4.2.3' },
    'node_modules/@babel/core': { version: '7.23.5', devOptional: true },
    'packages/lib': { name: 'lib', version: '0.1.0' },
    'node_modules/lib': { resolved: 'packages/lib', link: true },
  },
};

test('npm: package-lock.json v3, skipping root, dev, links and workspaces', async () => {
  const inv = await inventoryOf([layer([{ path: 'app/package-lock.json', data: JSON.stringify(LOCK_V3, null, 2) }])]);
  assert.equal(inv.os, undefined);
  assert.deepEqual(brief(inv.packages), [
    ['npm', '@babel/core', '7.23.5', 'app/package-lock.json'],
    ['npm', 'debug', '2.6.9', 'app/package-lock.json'],
    ['npm', 'express', '4.18.2', 'app/package-lock.json'],
    ['npm', 'string-width', '4.2.3', 'app/package-lock.json'],
  ]);
});

test('npm: lockfile v1 nested dependencies and aliases', () => {
  const v1 = {
    lockfileVersion: 1,
    dependencies: {
      lodash: { version: '4.17.21' },
      mocha: { version: '10.2.0', dev: true, dependencies: { ms: { version: '2.1.3' } } },
      request: { version: '2.88.2', dependencies: { qs: { version: '6.5.3' } } },
      strip: { version: 'npm:strip-ansi@6.0.1' },
      local: { version: 'file:../local' },
    },
  };
  assert.deepEqual(
    lockfilePackages(v1, 'p').map((p) => `${p.name}@${p.version}`),
    ['lodash@4.17.21', 'request@2.88.2', 'qs@6.5.3', 'strip-ansi@6.0.1'],
  );
});

test('npm: lockfile v2 reads the packages section, not the legacy one', () => {
  const v2 = { lockfileVersion: 2, packages: { 'node_modules/a': { version: '1.0.0' } }, dependencies: { a: { version: '1.0.0' }, b: { version: '9.9.9' } } };
  assert.deepEqual(
    lockfilePackages(v2, 'p').map((p) => p.name),
    ['a'],
  );
});

test('npm: installed node_modules package.json files, scoped and nested', async () => {
  const inv = await inventoryOf([
    layer([
      { path: 'usr/src/app/node_modules/express/package.json', data: '{"name":"express","version":"4.18.2","description":"x"}' },
      { path: 'usr/src/app/node_modules/@scope/pkg/package.json', data: '\uFEFF{"name":"@scope/pkg","version":"1.0.0"}' },
      { path: 'usr/src/app/node_modules/express/node_modules/qs/package.json', data: '{"name":"qs","version":"6.11.0"}' },
      { path: 'usr/src/app/node_modules/express/lib/package.json', data: '{"name":"nope","version":"0"}' },
      { path: 'usr/src/app/node_modules/broken/package.json', data: '{not json' },
      { path: 'usr/src/app/package.json', data: '{"name":"app","version":"1.0.0"}' },
    ]),
  ]);
  assert.deepEqual(
    inv.packages.map((p) => `${p.name}@${p.version}`),
    ['@scope/pkg@1.0.0', 'express@4.18.2', 'qs@6.11.0'],
  );
});

test('Python: dist-info METADATA and egg-info PKG-INFO, headers only', async () => {
  const metadata =
    'Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nSummary: Python HTTP for Humans.\nRequires-Dist: idna (<4,>=2.5)\n\nName: not-a-header\n' +
    'long description\n'.repeat(10_000);
  const inv = await inventoryOf([
    layer([
      { path: 'usr/local/lib/python3.12/site-packages/requests-2.31.0.dist-info/METADATA', data: metadata },
      { path: 'usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO', data: 'Metadata-Version: 1.2\r\nName: six\r\nVersion: 1.16.0\r\n' },
      { path: 'usr/lib/python3/dist-packages/chardet-5.1.0.egg-info', data: 'Metadata-Version: 2.1\nName: chardet\nVersion: 5.1.0\n' },
      { path: 'usr/lib/python3/dist-packages/empty.dist-info/METADATA', data: 'Metadata-Version: 2.1\n' },
    ]),
  ]);
  assert.deepEqual(brief(inv.packages), [
    ['PyPI', 'chardet', '5.1.0', 'usr/lib/python3/dist-packages/chardet-5.1.0.egg-info'],
    ['PyPI', 'requests', '2.31.0', 'usr/local/lib/python3.12/site-packages/requests-2.31.0.dist-info/METADATA'],
    ['PyPI', 'six', '1.16.0', 'usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO'],
  ]);
});

test('Ruby: gem names and versions from specification file names', async () => {
  const inv = await inventoryOf([
    layer([
      { path: 'usr/local/bundle/specifications/rack-3.0.8.gemspec', data: 'Gem::Specification.new do |s| end\n' },
      { path: 'usr/local/bundle/specifications/nokogiri-1.15.4-x86_64-linux.gemspec', data: '# big gemspec' },
      { path: 'usr/local/lib/ruby/gems/3.2.0/specifications/default/net-http-0.4.1.gemspec', data: '' },
      { path: 'usr/local/bundle/gems/rack-3.0.8/rack.gemspec', data: 'not a spec dir' },
    ]),
  ]);
  assert.deepEqual(
    inv.packages.map((p) => [p.ecosystem, p.name, p.version]),
    [
      ['RubyGems', 'net-http', '0.4.1'],
      ['RubyGems', 'nokogiri', '1.15.4'],
      ['RubyGems', 'rack', '3.0.8'],
    ],
  );
  assert.equal(parseGemspecName('google-protobuf-3.25.1-x86_64-linux.gemspec')?.name, 'google-protobuf');
  assert.equal(parseGemspecName('noversion.gemspec'), undefined);
});
