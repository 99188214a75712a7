import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalMaven, maven } from './maven.js';

// Maven's ComparableVersionTest VERSIONS_QUALIFIER: each strictly below all later ones.
const VERSIONS_QUALIFIER = [
  '1-alpha2snapshot', '1-alpha2', '1-alpha-123', '1-beta-2', '1-beta123', '1-m2', '1-m11', '1-rc', '1-cr2', '1-rc123',
  '1-SNAPSHOT', '1', '1-sp', '1-sp2', '1-sp123', '1-abc', '1-def', '1-pom-1', '1-1-snapshot', '1-1', '1-2', '1-123',
];

// VERSIONS_NUMBER, in the order OSV's port of the specification asserts (maven_test.py).
const VERSIONS_NUMBER = [
  '2.0', '2-1', '2.0.a', '2.0.0.a', '2.0.2', '2.0.123', '2.1.0', '2.1-a', '2.1b', '2.1-c', '2.1-1', '2.1.0.1', '2.2',
  '2.123', '11.a2', '11.a11', '11.b2', '11.b11', '11.m2', '11.m11', '11', '11.a', '11b', '11c', '11m',
];

// testVersionsEqual (and OSV's extra leading-zero cases).
const EQUAL: string[][] = [
  ['1', '1'], ['1', '1.0'], ['1', '1.0.0'], ['1.0', '1.0.0'], ['1', '1-0'], ['1', '1.0-0'], ['1.0', '1.0-0'],
  ['1a', '1-a'], ['1a', '1.0-a'], ['1a', '1.0.0-a'], ['1.0a', '1-a'], ['1.0.0a', '1-a'], ['1x', '1-x'], ['1x', '1.0-x'],
  ['1x', '1.0.0-x'], ['1.0x', '1-x'], ['1.0.0x', '1-x'], ['1ga', '1'], ['1release', '1'], ['1final', '1'], ['1cr', '1rc'],
  ['1a1', '1-alpha-1'], ['1b2', '1-beta-2'], ['1m3', '1-milestone-3'], ['1X', '1x'], ['1A', '1a'], ['1B', '1b'],
  ['1M', '1m'], ['1Ga', '1'], ['1GA', '1'], ['1RELEASE', '1'], ['1RELeaSE', '1'], ['1Final', '1'], ['1FinaL', '1'],
  ['1FINAL', '1'], ['1Cr', '1Rc'], ['1cR', '1rC'], ['1m3', '1Milestone3'], ['1m3', '1MileStone3'], ['1m3', '1MILESTONE3'],
  ['1', '01', '001'], ['1.1', '1.01', '1.001'], ['1-1', '1-01', '1-001'], ['0.0.0', '0.0', '0'], ['0.0.0-0.0.0', '0-final-ga', '0'],
  ['1-abcdefghijklmnopqrstuvwxyz', '1-ABCDEFGHIJKLMNOPQRSTUVWXYZ'],
];

// testVersionComparing, testLeadingZeroes, MNG-5568, MNG-6572 and OSV's own cases: a < b.
const ORDERED: Array<[string, string]> = [
  ['1', '2'], ['1.5', '2'], ['1', '2.5'], ['1.0', '1.1'], ['1.1', '1.2'], ['1.0.0', '1.1'], ['1.0.1', '1.1'], ['1.1', '1.2.0'],
  ['1.0-alpha-1', '1.0'], ['1.0-alpha-1', '1.0-alpha-2'], ['1.0-alpha-1', '1.0-beta-1'], ['1.0-beta-1', '1.0-SNAPSHOT'],
  ['1.0-SNAPSHOT', '1.0'], ['1.0-alpha-1-SNAPSHOT', '1.0-alpha-1'], ['1.0', '1.0-1'], ['1.0-1', '1.0-2'], ['1.0.0', '1.0-1'],
  ['2.0-1', '2.0.1'], ['2.0.1-klm', '2.0.1-lmn'], ['2.0.1', '2.0.1-xyz'], ['2.0.1', '2.0.1-123'], ['2.0.1-xyz', '2.0.1-123'],
  ['0.7', '2'], ['0.2', '1.0.7'], ['6.1.0rc3', '6.1.0'], ['6.1.0rc3', '6.1H.5-beta'], ['6.1.0', '6.1H.5-beta'],
  ['20190126.230843', '1234567890.12345'], ['1234567890.12345', '123456789012345.1H.5-beta'],
  ['123456789012345.1H.5-beta', '12345678901234567890.1H.5-beta'], ['20190126.230843', '12345678901234567890.1H.5-beta'],
  ['0', '1'], ['0.0.0-2021-05-17T01-01-51-5ec03a8b', '20.0.0'],
];

describe('Maven ordering', () => {
  const chain = (list: string[]) => {
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        assert.equal(maven.compare(list[i]!, list[j]!), -1, `${list[i]} < ${list[j]}`);
        assert.equal(maven.compare(list[j]!, list[i]!), 1, `${list[j]} > ${list[i]}`);
      }
    }
  };

  it('orders ComparableVersionTest qualifiers', () => chain(VERSIONS_QUALIFIER));
  it('orders ComparableVersionTest numbers', () => chain(VERSIONS_NUMBER));

  it('treats ComparableVersionTest equal versions as equal', () => {
    for (const group of EQUAL) {
      for (const a of group) for (const b of group) assert.equal(maven.compare(a, b), 0, `${a} == ${b}`);
    }
  });

  it('orders the pairs of testVersionComparing, MNG-5568 and MNG-6572', () => {
    for (const [a, b] of ORDERED) {
      assert.equal(maven.compare(a, b), -1, `${a} < ${b}`);
      assert.equal(maven.compare(b, a), 1, `${b} > ${a}`);
    }
  });

  it('sorts the specification example as OSV does', () => {
    const unsorted = [
      '1', '1.1', '1-snapshot', '1', '1-sp', '1-foo2', '1-foo10', '1.foo', '1-foo', '1-1', '1.1', '1.ga', '1-ga', '1-0',
      '1.0', '1', '1-sp', '1-ga', '1-sp.1', '1-ga.1', '1-sp-1', '1-ga-1', '1-1', '1-a1', '1-alpha-1', '2', 'invalid', '0',
    ];
    const sorted = [...unsorted].sort(maven.compare).map(canonicalMaven);
    assert.deepEqual(sorted, [
      'invalid', '0', '1-alpha-1', '1-alpha-1', '1-snapshot', '1', '1', '1', '1', '1', '1', '1', '1', '1.foo', '1-.1',
      '1-sp', '1-sp', '1-sp-1', '1-sp.1', '1-foo', '1-foo-2', '1-foo-10', '1-1', '1-1', '1-1', '1.1', '1.1', '2',
    ]);
  });

  it('normalizes as OSV prints Maven versions', () => {
    const cases: Array<[string, string]> = [
      ['1.0.0', '1'], ['1.ga', '1'], ['1.final', '1'], ['1.0', '1'], ['1.', '1'], ['1-', '1'], ['1.0.0-foo.0.0', '1-foo'],
      ['1.0.0-0.0.0', '1'], ['1-1.foo-bar1baz-.1', '1-1.foo-bar-1-baz-0.1'], ['1cr', '1-rc'], ['1a', '1-a'],
      ['1a1', '1-alpha-1'], ['1b1', '1-beta-1'], ['1c1', '1-c-1'], ['1m1', '1-milestone-1'], ['1-ga-1', '1-1'],
    ];
    for (const [input, want] of cases) assert.equal(canonicalMaven(input), want, input);
  });
});
