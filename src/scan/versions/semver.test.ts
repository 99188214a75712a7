import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { semver } from './semver.js';

// semver.org, section 11: "Example: 1.0.0-alpha < 1.0.0-alpha.1 < ... < 1.0.0", and
// "1.0.0 < 2.0.0 < 2.1.0 < 2.1.1".
const SPEC_PRECEDENCE = [
  '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1',
  '1.0.0', '2.0.0', '2.1.0', '2.1.1',
];

// The valid and invalid strings of the regex101 page linked from semver.org's FAQ.
const SPEC_VALID = [
  '0.0.4', '1.2.3', '10.20.30', '1.1.2-prerelease+meta', '1.1.2+meta', '1.1.2+meta-valid', '1.0.0-alpha', '1.0.0-beta',
  '1.0.0-alpha.beta', '1.0.0-alpha.beta.1', '1.0.0-alpha.1', '1.0.0-alpha0.valid', '1.0.0-alpha.0valid',
  '1.0.0-alpha-a.b-c-somethinglong+build.1-aef.1-its-okay', '1.0.0-rc.1+build.1', '2.0.0-rc.1+build.123', '1.2.3-beta',
  '10.2.3-DEV-SNAPSHOT', '1.2.3-SNAPSHOT-123', '1.0.0', '2.0.0', '1.1.7', '2.0.0+build.1848', '2.0.1-alpha.1227',
  '1.0.0-alpha+beta', '1.2.3----RC-SNAPSHOT.12.9.1--.12+788', '1.2.3----R-S.12.9.1--.12+meta',
  '1.2.3----RC-SNAPSHOT.12.9.1--.12', '1.0.0+0.build.1-rc.10000aaa-kk-0.1',
  '99999999999999999999999.999999999999999999.99999999999999999', '1.0.0-0A.is.legal',
];
const SPEC_INVALID = [
  '1', '1.2', '1.2.3-0123', '1.2.3-0123.0123', '1.1.2+.123', '+invalid', '-invalid', '-invalid+invalid', '-invalid.01',
  'alpha', 'alpha.beta', 'alpha.beta.1', 'alpha.1', 'alpha+beta', 'alpha_beta', 'alpha.', 'alpha..', 'beta',
  '1.0.0-alpha_beta', '-alpha.', '1.0.0-alpha..', '1.0.0-alpha..1', '1.0.0-alpha...1', '1.0.0-alpha....1',
  '1.0.0-alpha.....1', '1.0.0-alpha......1', '1.0.0-alpha.......1', '01.1.1', '1.01.1', '1.1.01', '1.2.3.DEV',
  '1.2-SNAPSHOT', '1.2.31.2.3----RC-SNAPSHOT.12.09.1--..12+788', '1.2-RC-SNAPSHOT', '-1.0.3-gamma+b7718',
  '+justmeta', '9.8.7+meta+meta', '9.8.7-whatever+meta+meta',
  '99999999999999999999999.999999999999999999.99999999999999999----RC-SNAPSHOT.12.09.1--------------------------------..12',
];

// golang.org/x/mod/semver's semver_test.go table, in its precedence order: [input, canonical].
// Go's shorthand "v1" / "v1.2" means v1.0.0 / v1.2.0. (Go also rejects shorthand with a
// pre-release, e.g. "v1.2-pre"; this ordering reads those leniently, so they are left out.)
const GO_TESTS: Array<[string, string]> = [
  ['v1.0.0-alpha', 'v1.0.0-alpha'], ['v1.0.0-alpha.1', 'v1.0.0-alpha.1'], ['v1.0.0-alpha.beta', 'v1.0.0-alpha.beta'],
  ['v1.0.0-beta', 'v1.0.0-beta'], ['v1.0.0-beta.2', 'v1.0.0-beta.2'], ['v1.0.0-beta.11', 'v1.0.0-beta.11'],
  ['v1.0.0-rc.1', 'v1.0.0-rc.1'], ['v1', 'v1.0.0'], ['v1.0', 'v1.0.0'], ['v1.0.0', 'v1.0.0'], ['v1.2', 'v1.2.0'],
  ['v1.2.0', 'v1.2.0'], ['v1.2.3-456', 'v1.2.3-456'], ['v1.2.3-456.789', 'v1.2.3-456.789'],
  ['v1.2.3-456-789', 'v1.2.3-456-789'], ['v1.2.3-456a', 'v1.2.3-456a'], ['v1.2.3-pre', 'v1.2.3-pre'],
  ['v1.2.3-pre+meta', 'v1.2.3-pre'], ['v1.2.3-pre.1', 'v1.2.3-pre.1'], ['v1.2.3-zzz', 'v1.2.3-zzz'],
  ['v1.2.3', 'v1.2.3'], ['v1.2.3+meta', 'v1.2.3'], ['v1.2.3+meta-pre', 'v1.2.3'], ['v1.2.3+meta-pre.sha.256a', 'v1.2.3'],
];

describe('semver ordering', () => {
  it('follows the semver.org precedence example', () => {
    for (let i = 0; i < SPEC_PRECEDENCE.length; i++) {
      for (let j = 0; j < SPEC_PRECEDENCE.length; j++) {
        const want = i < j ? -1 : i > j ? 1 : 0;
        assert.equal(semver.compare(SPEC_PRECEDENCE[i]!, SPEC_PRECEDENCE[j]!), want, `${SPEC_PRECEDENCE[i]} vs ${SPEC_PRECEDENCE[j]}`);
      }
    }
  });

  it('validates the semver.org example strings', () => {
    for (const v of SPEC_VALID) assert.equal(semver.isValid(v), true, v);
    for (const v of SPEC_INVALID) assert.equal(semver.isValid(v), false, v);
  });

  it("agrees with Go's x/mod/semver Compare table", () => {
    for (let i = 0; i < GO_TESTS.length; i++) {
      for (let j = 0; j < GO_TESTS.length; j++) {
        const [vi, ci] = GO_TESTS[i]!;
        const [vj, cj] = GO_TESTS[j]!;
        const want = ci === cj ? 0 : i < j ? -1 : 1;
        assert.equal(semver.compare(vi, vj), want, `${vi} vs ${vj}`);
      }
    }
    assert.equal(semver.compare('v1', 'v1'), 0);
    assert.equal(semver.compare('v2', 'v1'), 1);
    assert.equal(semver.compare('v1.19', 'v1.2'), 1);
    // Go's "bad" sorts before every valid version.
    for (const [v] of GO_TESTS) assert.equal(semver.compare('bad', v), -1, v);
  });

  it('ignores build metadata, including Go +incompatible', () => {
    assert.equal(semver.compare('v2.0.0+incompatible', '2.0.0'), 0);
    assert.equal(semver.compare('v2.1.0+incompatible', 'v2.0.9'), 1);
    assert.equal(semver.compare('1.0.0+build.1', '1.0.0+build.2'), 0);
    assert.equal(semver.isValid('v2.0.0+incompatible'), true);
  });

  it('orders Go pseudo-versions by their timestamps', () => {
    assert.equal(semver.compare('0.0.0-20220314234659-1baeb1ce4c0b', '0.0.0-20220315000000-aaaaaaaaaaaa'), -1);
    assert.equal(semver.compare('v1.2.4-0.20220101000000-abcdefabcdef', 'v1.2.3'), 1);
    assert.equal(semver.compare('v1.2.4-0.20220101000000-abcdefabcdef', 'v1.2.4'), -1);
  });

  it('compares numbers beyond double precision exactly', () => {
    assert.equal(semver.compare('99999999999999999999999.0.0', '99999999999999999999998.0.0'), 1);
    assert.equal(semver.compare('1.0.0-9007199254740993', '1.0.0-9007199254740992'), 1);
  });
});
