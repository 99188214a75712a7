import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizePep440, pep440 } from './pep440.js';

/** The expected result with the operands swapped (never -0, which strictEqual tells from 0). */
const flip = (r: number) => (r === 0 ? 0 : -r);

// pypa/packaging tests/test_version.py VERSIONS: "This list must be in the correct sorting order".
const SORTED = `
1.0.dev0 1.0.dev456 1.0.dev456+local 1.0a0 1.0a0.post0.dev0 1.0a0.post0 1.0a1.dev1 1.0a1.dev1+local 1.0a1
1.0a1+local 1.0b0 1.0b1.dev456 1.0b2 1.0b2.post345.dev456 1.0b2.post345 1.0b2-346 1.0rc0 1.0rc1.dev1 1.0c1
1.0rc2 1.0 1.0.post0.dev0 1.0.post0 1.0.post456.dev34 1.0.post456 1.0.post456+local 1.0.1.dev1 1.0.1a1
1.0.1 1.0.1+local 1.0.1.post1 1.1.dev1 1.2+a 1.2+abc 1.2+abcdef 1.2+def 1.2+0 1.2+1 1.2+1.abc 1.2+1.1
1.2+1.1.0 1.2+2 1.2+123 1.2+123456 1.2.r32+123456 1.2.rev33+123456
1!1.0.dev0 1!1.0.dev456 1!1.0.dev456+local 1!1.0a0 1!1.0a0.post0.dev0 1!1.0a0.post0 1!1.0a1.dev1
1!1.0a1.dev1+local 1!1.0a1 1!1.0a1+local 1!1.0b0 1!1.0b1.dev456 1!1.0b2 1!1.0b2.post345.dev456
1!1.0b2.post345 1!1.0b2-346 1!1.0rc0 1!1.0rc1.dev1 1!1.0c1 1!1.0rc2 1!1.0 1!1.0.post0.dev0 1!1.0.post0
1!1.0.post456.dev34 1!1.0.post456 1!1.0.post456+local 1!1.0.1.dev1 1!1.0.1a1 1!1.0.1 1!1.0.1+local
1!1.0.1.post1 1!1.1.dev1 1!1.2+a 1!1.2+abc 1!1.2+abcdef 1!1.2+def 1!1.2+0 1!1.2+1 1!1.2+1.abc 1!1.2+1.1
1!1.2+1.1.0 1!1.2+2 1!1.2+123 1!1.2+123456 1!1.2.r32+123456 1!1.2.rev33+123456
`
  .trim()
  .split(/\s+/);

// Same file, test_invalid_versions.
const INVALID = [
  'french toast', '1.0+a+', '1.0++', '1.0+_foobar', '1.0+foo&asd', '1.0+1+1', '1. 0', '1 .0', '1. 0a1', '1 .0a1',
  '1.0 a1', '1.0a 1', '٠١٢.٣٤٥.٦٧٨٩', '.', '..', '1..0', '1.0.', '.1.0', '1..2.3', '1.0+\u0130',
];

// Same file, test_normalized_versions: [input, normalized].
const NORMALIZED: Array<[string, string]> = [
  ['1.0dev', '1.0.dev0'], ['1.0.dev', '1.0.dev0'], ['1.0dev1', '1.0.dev1'], ['1.0-dev', '1.0.dev0'], ['1.0-dev1', '1.0.dev1'],
  ['1.0DEV', '1.0.dev0'], ['1.0.DEV1', '1.0.dev1'], ['1.0-DEV', '1.0.dev0'],
  ['1.0a', '1.0a0'], ['1.0.a', '1.0a0'], ['1.0.a1', '1.0a1'], ['1.0-a', '1.0a0'], ['1.0-a1', '1.0a1'], ['1.0alpha', '1.0a0'],
  ['1.0.alpha1', '1.0a1'], ['1.0-alpha', '1.0a0'], ['1.0A', '1.0a0'], ['1.0.ALPHA1', '1.0a1'], ['1.0-ALPHA1', '1.0a1'],
  ['1.0b', '1.0b0'], ['1.0.b1', '1.0b1'], ['1.0-beta', '1.0b0'], ['1.0.beta1', '1.0b1'], ['1.0B', '1.0b0'], ['1.0-BETA1', '1.0b1'],
  ['1.0c', '1.0rc0'], ['1.0.c1', '1.0rc1'], ['1.0-c', '1.0rc0'], ['1.0rc', '1.0rc0'], ['1.0.rc1', '1.0rc1'], ['1.0-rc', '1.0rc0'],
  ['1.0C', '1.0rc0'], ['1.0.RC1', '1.0rc1'], ['1.0-RC1', '1.0rc1'],
  ['1.0post', '1.0.post0'], ['1.0.post', '1.0.post0'], ['1.0post1', '1.0.post1'], ['1.0-post', '1.0.post0'], ['1.0-post1', '1.0.post1'],
  ['1.0POST', '1.0.post0'], ['1.0r', '1.0.post0'], ['1.0rev', '1.0.post0'], ['1.0.r1', '1.0.post1'], ['1.0.rev1', '1.0.post1'],
  ['1.0-POST1', '1.0.post1'], ['1.0-5', '1.0.post5'], ['1.0-r5', '1.0.post5'], ['1.0-rev5', '1.0.post5'],
  ['1.0+AbC', '1.0+abc'], ['1.01', '1.1'], ['1.0a05', '1.0a5'], ['1.0b07', '1.0b7'], ['1.0c056', '1.0rc56'], ['1.0rc09', '1.0rc9'],
  ['1.0.post000', '1.0.post0'], ['1.1.dev09000', '1.1.dev9000'], ['00!1.2', '1.2'], ['0100!0.0', '100!0.0'],
  ['v1.0', '1.0'], ['   v1.0\t\n', '1.0'], ['\u202f1.0\t\u2029\n ', '1.0'],
  ['0!1.0.4+8.0', '1.0.4+8.0'], ['7!1.0b2.post345.dev456', '7!1.0b2.post345.dev456'], ['1.2+123abc456', '1.2+123abc456'],
];

// osv-scanner's PyPI fixture (internal/semantic/fixtures/pypi-versions.txt), "a op b".
const OSV_PYPI = [
  '1.36.0rc1 > 1.35.0', '1.36.1 > 1.36.0', '0.3.0 > 0', '1.0.0+local > 1.0.0', '1.0.0.dev1 < 1.0.0',
  '1.0.0.dev1 < 1.0.0.dev2', '1.0.dev0 < 1.0a0', '1.2a3.dev4 < 1.2a3.dev5', '1.2b3.dev4 < 1.2b3.dev5',
  '1.2b3.DEV4 < 1.2b3.dev5', '1.2b3.dev4 < 1.2b3.DEV5', '1.2a3.dev4 < 1.2b3.dev4', '1.2.post3.dev4 > 1.2b3.dev4',
  '2.0.0a1 < 2.0.0rc1', '0.9.alpha < 1.0', '0.9.beta < 1.0', '0.9.c < 1.0', '0.9.pre < 1.0', '0.9.preview < 1.0',
  '0.9.rev < 1.0', '0.9.r < 1.0', '1.0.0+local.0 < 1.0.0+local.0.1', '1.0.0+local.a < 1.0.0+local.1',
  '1.0.0+local = 1.0.0+local', '1.0-1 < 1.0-2', '1!1.0 < 2!1.0', '0.1-bulbasaur < 0.1-charmander',
  '0.9-gyarados < 0.9-horsea', '0.9-ivysaur < 1.0', '-class.-jw.util.version.version-pre < 1.0',
];

describe('PEP 440 ordering', () => {
  it('sorts packaging’s VERSIONS list exactly', () => {
    assert.equal(SORTED.length, 92);
    for (let i = 0; i < SORTED.length; i++) {
      assert.equal(pep440.isValid(SORTED[i]!), true, SORTED[i]);
      for (let j = 0; j < SORTED.length; j++) {
        const want = i < j ? -1 : i > j ? 1 : 0;
        assert.equal(pep440.compare(SORTED[i]!, SORTED[j]!), want, `${SORTED[i]} vs ${SORTED[j]}`);
      }
    }
  });

  it('rejects packaging’s invalid versions', () => {
    for (const v of INVALID) assert.equal(pep440.isValid(v), false, JSON.stringify(v));
  });

  it('normalizes as packaging does, and normalized forms compare equal', () => {
    for (const [input, want] of NORMALIZED) {
      assert.equal(normalizePep440(input), want, JSON.stringify(input));
      assert.equal(pep440.compare(input, want), 0, JSON.stringify(input));
    }
    assert.equal(pep440.compare('1.0rc1', '1.0c1'), 0);
  });

  it("agrees with OSV's PyPI fixture, legacy strings sorting first", () => {
    const op: Record<string, number> = { '<': -1, '=': 0, '>': 1 };
    for (const row of OSV_PYPI) {
      const [a, o, b] = row.split(' ');
      assert.equal(pep440.compare(a!, b!), op[o!], row);
      assert.equal(pep440.compare(b!, a!), flip(op[o!]!), row);
    }
  });
});
