import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalizePhp, packagist } from './packagist.js';

/** The expected result with the operands swapped (never -0, which strictEqual tells from 0). */
const flip = (r: number) => (r === 0 ? 0 : -r);

// OSV.dev's Packagist tests (osv/ecosystems/packagist_test.py): [a, b, sign of compare(a, b)].
const OSV_PACKAGIST: Array<[string, string, number]> = [
  ['invalid', '0', -1], ['4.3-2RC1', '4.3-2RC2', -1], ['4.3-2RC2', '4.3-2beta5', 1], ['4.3-2', '4.3-2beta1', 1],
  ['1.0.0', '1.0', 1], ['1.0.0rc2', '1.0.0.rc2', 0],
];

// The ordering PHP's version_compare documents for special forms, applied as Composer
// versions use them: "any string not found" < dev < alpha = a < beta = b < RC = rc < # < pl = p.
const SPECIAL_CHAIN = ['1.0-foo', '1.0-dev', '1.0-alpha1', '1.0-beta1', '1.0-RC1', '1.0', '1.0-pl1'];
const SPECIAL_EQUAL: Array<[string, string]> = [
  ['1.0-alpha1', '1.0-a1'], ['1.0-beta2', '1.0-b2'], ['1.0-RC3', '1.0-rc3'], ['1.0-pl1', '1.0-p1'], ['1.0.0-rc2', '1.0.0_rc2'],
  ['1.0+1', '1.0.1'], ['v1.2.3', '1.2.3'], ['1.02', '1.2'],
];

// Plain numeric and mixed cases, each with the result PHP's algorithm gives.
const MORE: Array<[string, string, number]> = [
  ['1.0.0', '1.0.1', -1], ['1.10.0', '1.9.9', 1], ['5.3.0-dev', '5.3.0', -1], ['1.0rc1', '1.0', -1],
  ['1.0pl1', '1.0', 1], ['1.0-beta', '1.0-alpha', 1], ['2.4.1', '2.4.1-patch1', -1], ['7.4.33', '8.0.0-RC1', -1],
  ['10.4.9', '10.4.10', -1], ['3.0.0-beta.2', '3.0.0-beta.10', -1], ['1.0.', '1.0', -1], ['1.0', '1.0.0.0', -1],
];

describe('Packagist ordering', () => {
  it("agrees with OSV.dev's Packagist tests", () => {
    for (const [a, b, r] of OSV_PACKAGIST) {
      assert.equal(packagist.compare(a, b), r, `${a} vs ${b}`);
      assert.equal(packagist.compare(b, a), flip(r), `${b} vs ${a}`);
    }
  });

  it('orders the special forms as version_compare documents', () => {
    for (let i = 0; i < SPECIAL_CHAIN.length; i++) {
      for (let j = i + 1; j < SPECIAL_CHAIN.length; j++) {
        assert.equal(packagist.compare(SPECIAL_CHAIN[i]!, SPECIAL_CHAIN[j]!), -1, `${SPECIAL_CHAIN[i]} < ${SPECIAL_CHAIN[j]}`);
        assert.equal(packagist.compare(SPECIAL_CHAIN[j]!, SPECIAL_CHAIN[i]!), 1, `${SPECIAL_CHAIN[j]} > ${SPECIAL_CHAIN[i]}`);
      }
    }
    for (const [a, b] of SPECIAL_EQUAL) assert.equal(packagist.compare(a, b), 0, `${a} == ${b}`);
  });

  it('handles numeric and mixed versions', () => {
    for (const [a, b, r] of MORE) assert.equal(packagist.compare(a, b), r, `${a} vs ${b}`);
  });

  it('canonicalizes like php_canonicalize_version', () => {
    assert.equal(canonicalizePhp('4.3-2RC1'), '4.3.2.RC.1');
    assert.equal(canonicalizePhp('1.0.0rc2'), '1.0.0.rc.2');
    assert.equal(canonicalizePhp('1.0--beta__1'), '1.0.beta.1');
    assert.equal(canonicalizePhp('1.0+build#5'), '1.0.build.5');
  });

  it('validates Composer-style versions', () => {
    for (const v of ['1.0.0', 'v2.3.4', '1.0.0-beta1', '1.0.0-RC2', '2.1.x-dev', '4.3-2RC1']) assert.equal(packagist.isValid(v), true, v);
    for (const v of ['', 'dev-master', 'invalid', '1.0.0 beta']) assert.equal(packagist.isValid(v), false, v);
  });

  it('refuses a long run of digits and letters that ends badly at once (an image chooses its lock file)', () => {
    assert.equal(packagist.isValid(`1${'a1'.repeat(30)}!`), false);
    assert.equal(packagist.isValid(`1${'a1'.repeat(30)}`), true);
  });
});
