import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitEcosystem, versionOrdering } from './registry.js';

describe('versionOrdering', () => {
  it('maps OSV ecosystems, with or without a release suffix, to their ordering', () => {
    const cases: Array<[string, string]> = [
      ['Debian', 'dpkg'], ['Debian:12', 'dpkg'], ['Ubuntu:22.04:LTS', 'dpkg'], ['Ubuntu:Pro:18.04:LTS', 'dpkg'],
      ['Alpine:v3.19', 'apk'], ['Wolfi', 'apk'], ['Red Hat:rhel_aus:8.4::appstream', 'rpm'], ['AlmaLinux:9', 'rpm'],
      ['Rocky Linux:8', 'rpm'], ['openSUSE:Tumbleweed', 'rpm'], ['SUSE:Linux Enterprise Server 15 SP5', 'rpm'],
      ['npm', 'semver'], ['Go', 'semver'], ['crates.io', 'semver'], ['PyPI', 'pep440'], ['Maven', 'maven'],
      ['Maven:https://maven.google.com', 'maven'], ['RubyGems', 'rubygems'], ['Packagist', 'packagist'],
      ['Packagist:https://packages.drupal.org/8', 'packagist'], ['debian:11', 'dpkg'], ['PYPI', 'pep440'],
    ];
    for (const [eco, name] of cases) assert.equal(versionOrdering(eco)?.name, name, eco);
  });

  it('has no ordering for ecosystems it does not know', () => {
    for (const eco of ['NuGet', 'Linux', 'GIT', '', 'OSS-Fuzz']) assert.equal(versionOrdering(eco), undefined, eco);
  });

  it('gives each ordering the ecosystem rules, not another', () => {
    // '1.0~rc1' is below '1.0' for dpkg but a malformed (lowest) string for semver.
    assert.equal(versionOrdering('Debian:12')!.compare('1.0~rc1', '1.0'), -1);
    assert.equal(versionOrdering('PyPI')!.compare('1.0.post1', '1.0'), 1);
    assert.equal(versionOrdering('Maven')!.compare('1.0-SNAPSHOT', '1.0'), -1);
    assert.equal(versionOrdering('Alpine:v3.19')!.compare('1.0_rc1', '1.0'), -1);
  });
});

describe('splitEcosystem', () => {
  it('splits at the first colon and canonicalizes the base', () => {
    assert.deepEqual(splitEcosystem('Ubuntu:22.04:LTS'), { base: 'Ubuntu', suffix: '22.04:LTS', known: true });
    assert.deepEqual(splitEcosystem('debian'), { base: 'Debian', suffix: '', known: true });
    assert.deepEqual(splitEcosystem('Maven:https://repo1'), { base: 'Maven', suffix: 'https://repo1', known: true });
    assert.deepEqual(splitEcosystem('NuGet'), { base: 'NuGet', suffix: '', known: false });
  });
});
