import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ecosystemScope, normalizePackageName, scopeApplies } from './ecosystems.js';

describe('ecosystem scopes', () => {
  it('normalizes distribution releases the way scanners and OSV spell them', () => {
    const cases: Array<[string, string, string]> = [
      ['Debian:12', 'Debian', '12'],
      ['Debian:12.5', 'Debian', '12'],
      ['debian:11', 'Debian', '11'],
      ['Debian', 'Debian', ''],
      ['Alpine:v3.19', 'Alpine', '3.19'],
      ['Alpine:3.19.1', 'Alpine', '3.19'],
      ['Alpine:edge', 'Alpine', 'edge'],
      ['Ubuntu:22.04:LTS', 'Ubuntu', '22.04'],
      ['Ubuntu:22.04', 'Ubuntu', '22.04'],
      ['Ubuntu:Pro:18.04:LTS', 'Ubuntu', 'pro:18.04'],
      ['AlmaLinux:9.3', 'AlmaLinux', '9'],
      ['Rocky Linux:8', 'Rocky Linux', '8'],
      ['Red Hat:rhel_aus:8.4::appstream', 'Red Hat', 'rhel_aus:8.4::appstream'],
      ['npm', 'npm', ''],
      ['Maven:https://maven.google.com', 'Maven', 'https://maven.google.com'],
    ];
    for (const [eco, base, release] of cases) assert.deepEqual(ecosystemScope(eco), { base, release }, eco);
  });

  it('applies release-scoped entries only to that release, unscoped ones to all', () => {
    const inv = ecosystemScope('Debian:12.4');
    assert.equal(scopeApplies(ecosystemScope('Debian:12'), inv), true);
    assert.equal(scopeApplies(ecosystemScope('Debian:11'), inv), false);
    assert.equal(scopeApplies(ecosystemScope('Debian'), inv), true);
    assert.equal(scopeApplies(ecosystemScope('Ubuntu:22.04'), inv), false);
    // An inventory that does not know its release meets only unscoped entries.
    assert.equal(scopeApplies(ecosystemScope('Debian:12'), ecosystemScope('Debian')), false);
    // Ubuntu Pro fixes are not the public release's.
    assert.equal(scopeApplies(ecosystemScope('Ubuntu:Pro:18.04:LTS'), ecosystemScope('Ubuntu:18.04')), false);
    assert.equal(scopeApplies(ecosystemScope('Ubuntu:18.04:LTS'), ecosystemScope('Ubuntu:18.04')), true);
  });
});

describe('package names', () => {
  it('normalizes PyPI names per PEP 503', () => {
    for (const n of ['Friendly-Bard', 'friendly.bard', 'FRIENDLY_BARD', 'friendly--bard', 'FrIeNdLy-._.-bArD'])
      assert.equal(normalizePackageName('PyPI', n), 'friendly-bard', n);
  });

  it('folds crates.io case and separators, and case where the ecosystem ignores it', () => {
    assert.equal(normalizePackageName('crates.io', 'Serde_JSON'), 'serde-json');
    assert.equal(normalizePackageName('Packagist', 'Symfony/HTTP-Kernel'), 'symfony/http-kernel');
    assert.equal(normalizePackageName('Debian', 'OpenSSL'), 'openssl');
  });

  it('keeps names exact where the ecosystem is case-sensitive', () => {
    assert.equal(normalizePackageName('npm', 'JSONStream'), 'JSONStream');
    assert.equal(normalizePackageName('Maven', 'org.Foo:Bar'), 'org.Foo:Bar');
    assert.equal(normalizePackageName('Go', 'github.com/BurntSushi/toml'), 'github.com/BurntSushi/toml');
  });
});
