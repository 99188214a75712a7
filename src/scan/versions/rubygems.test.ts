import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rubygems } from './rubygems.js';

/** The expected result with the operands swapped (never -0, which strictEqual tells from 0). */
const flip = (r: number) => (r === 0 ? 0 : -r);

// RubyGems test/rubygems/test_gem_version.rb, test_spaceship.
const SPACESHIP: Array<[string, string, number]> = [
  ['1.0', '1.0.0', 0], ['1.0', '1.0.a', 1], ['1.8.2', '0.0.0', 1], ['1.8.2', '1.8.2.a', 1], ['1.8.2.b', '1.8.2.a', 1],
  ['1.8.2.a', '1.8.2', -1], ['1.8.2.a10', '1.8.2.a9', 1], ['', '0', 0],
];

// Cases that follow from Gem::Version's documented rules (canonical segments, `-` as
// `.pre.`, letters below numbers), beyond the table above.
const RULES: Array<[string, string, number]> = [
  ['0.beta.1', '0.0.beta.1', 0], ['0.0.beta', '0.0.beta.1', -1], ['0.0.beta', '0.beta.1', -1], ['5.a', '5.0.0.rc2', -1],
  ['5.x', '5.0.0.rc2', 1], ['1.0.0-alpha', '1.0.0-alpha.1', -1], ['1.0.0-alpha.1', '1.0.0-beta.2', -1],
  ['1.0.0-beta.2', '1.0.0-beta.11', -1], ['1.0.0-beta.11', '1.0.0-rc.1', -1], ['1.0.0-rc1', '1.0.0', -1],
  ['1.0.0-1', '1', -1], ['1.2.b1', '1.2.b.1', 0], [' 1.0 ', '1.0', 0], ['1.0\n', '1.0', 0], ['1.A', '1.a', -1],
  ['10.0', '9.9', 1], ['1.0.0.1', '1.0.0', 1], ['7.0.8.1', '7.0.8', 1],
];

// osv-scanner's RubyGems fixture (fixtures/rubygems-versions-generated.txt, a sample): "a < b".
const OSV_RUBYGEMS = `
0.3.35 < 0.3.36|0.5.9 < 0.5.10|0.7.153 < 0.7.156|0.119.0.beta1 < 0.119.0|0.9.4 < 0.9.4.1|0.9.4.1 < 0.9.5
2.3.7 < 2.3.8.pre1|2.3.8.pre1 < 2.3.8|2.3.8 < 2.3.9.pre|2.3.9.pre < 2.3.9|2.3.18 < 3.0.0.beta
3.0.0.beta < 3.0.0.beta2|3.0.0.beta4 < 3.0.0.rc|3.0.0.rc < 3.0.0.rc2|3.0.0.rc2 < 3.0.0|3.0.3 < 3.0.4.rc1
3.0.8.rc2 < 3.0.8.rc4|3.0.9 < 3.0.10.rc1|3.0.20 < 3.1.0.beta1|3.1.0.beta1 < 3.1.0.rc1|3.1.0.rc8 < 3.1.0
3.2.22 < 3.2.22.1|3.2.22.5 < 4.0.0.beta1|4.0.0.beta1 < 4.0.0.rc1|4.0.11 < 4.0.11.1|4.0.11.1 < 4.0.12
4.2.11.3 < 5.0.0.beta1|5.0.0.beta1 < 5.0.0.beta1.1|5.0.0.beta1.1 < 5.0.0.beta2|5.0.0.beta4 < 5.0.0.racecar1
5.0.0.racecar1 < 5.0.0.rc1|5.0.0.rc2 < 5.0.0|5.0.0 < 5.0.0.1|5.0.0.1 < 5.0.1.rc1|6.0.3.7 < 6.0.4
1.0.11 < 1.0.12.pre|1.0.12.pre < 1.0.12.rc1|1.1.6.pre2 < 1.2.0.dev|1.2.0.dev < 1.2.0.dev2|1.2.0.dev4 < 1.2.0.pre1
1.2.0.pre6 < 1.2.0|1.4.0 < 1.4.1.dev|1.4.1.dev < 1.5.0.pre1|3.0.0.beta4 < 3.0.pre|3.0.pre < 3.0.0.rc
1.4.7 < 1.5.0.beta.1|1.5.0.beta.1 < 1.5.0.beta.2|1.5.0.beta.4 < 1.5.0|1.0.0.rc1 < 1.0.0.1|1.0.0.1 < 1.1.0.rc
1.3.1 < 1.4.0.a|1.4.0.a < 1.4.0|1.5.0.a < 1.5.0.b|0.1 < 0.2|0.5 < 0.5.1|0.9.2 < 1.0
`;

describe('RubyGems ordering', () => {
  it('agrees with test_spaceship and the documented rules', () => {
    for (const [a, b, r] of [...SPACESHIP, ...RULES]) {
      assert.equal(rubygems.compare(a, b), r, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      assert.equal(rubygems.compare(b, a), flip(r), `${JSON.stringify(b)} vs ${JSON.stringify(a)}`);
    }
  });

  it("agrees with OSV's RubyGems fixture", () => {
    const rows = OSV_RUBYGEMS.trim().split(/[\n|]/).map((s) => s.trim().split(' < '));
    assert.ok(rows.length >= 50, `only ${rows.length}`);
    for (const [a, b] of rows) {
      assert.equal(rubygems.compare(a!, b!), -1, `${a} < ${b}`);
      assert.equal(rubygems.compare(b!, a!), 1, `${b} > ${a}`);
    }
  });

  it('validates as Gem::Version.correct? does', () => {
    for (const v of ['1.0', '1.0 ', ' 1.0 ', '1.0\n', '', '1.2.b1', '1.0.0-rc.1', '2.0.0.pre.1', '1.A']) assert.equal(rubygems.isValid(v), true, JSON.stringify(v));
    for (const v of ['junk', '1.0\n2.0', '1.0+build', 'v1.0', '1..0']) assert.equal(rubygems.isValid(v), false, JSON.stringify(v));
  });

  it('sorts malformed versions before valid ones', () => {
    assert.equal(rubygems.compare('junk', '0'), -1);
    assert.equal(rubygems.compare('junk', 'junk'), 0);
  });
});
