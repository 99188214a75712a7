import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dpkg, splitDeb, verrevcmp } from './dpkg.js';
import { compareDigits } from './ordering.js';

/** The expected result with the operands swapped (never -0, which strictEqual tells from 0). */
const flip = (r: number) => (r === 0 ? 0 : -r);

// The comparison table of dpkg's own test suite (scripts/t/Dpkg_Version.t, __DATA__):
// "a b expected", where expected is the sign of compare(a, b).
const DPKG_VERSION_T = `
1.0-1 2.0-2 -1
2.2~rc-4 2.2-1 -1
2.2-1 2.2~rc-4 1
1.0000-1 1.0-1 0
1 0:1 0
0 0:0-0 0
2:2.5 1:7.5 1
1:0foo 0foo 1
0:0foo 0foo 0
0foo 0foo 0
0foo- 0foo 0
0foo- 0foo-0 0
0foo 0fo 1
0foo- 0foo+ -1
0foo~1 0foo -1
0foo~foo+Bar 0foo~foo+bar -1
0foo~~ 0foo~ -1
1~ 1 -1
12345+that-really-is-some-ver-0 12345+that-really-is-some-ver-10 -1
0foo-0 0foo-01 -1
0foo.bar 0foobar 1
0foo.bar 0foo1bar 1
0foo.bar 0foo0bar 1
0foo1bar-1 0foobar-1 -1
0foo2.0 0foo2 1
0foo2.0.0 0foo2.10.0 -1
0foo2.0 0foo2.0.0 -1
0foo2.0 0foo2.10 -1
0foo2.1 0foo2.10 -1
1.09 1.9 0
1.0.8+nmu1 1.0.8 1
3.11 3.10+nmu1 1
0.9j-20080306-4 0.9i-20070324-2 1
1.2.0~b7-1 1.2.0~b6-1 1
1.011-1 1.06-2 1
0.0.9+dfsg1-1 0.0.8+dfsg1-3 1
4.6.99+svn6582-1 4.6.99+svn6496-1 1
53 52 1
0.9.9~pre122-1 0.9.9~pre111-1 1
2:2.3.2-2+lenny2 2:2.3.2-2 1
1:3.8.1-1 3.8.GA-1 1
1.0.1+gpl-1 1.0.1-2 1
1a 1000a -1
-0.6.5 0.9.1 -1
`;

// From lib/dpkg/t/t-version.c (test_version_compare / test_version_parse), written as strings.
const T_VERSION_C: Array<[string, string, number]> = [
  ['0:0-0', '0:0-0', 0],
  ['0:0-00', '0:00-0', 0],
  ['1:2-3', '1:2-3', 0],
  ['0:0-0', '1:0-0', -1],
  ['0:a-0', '0:b-0', -1],
  ['0:0-a', '0:0-b', -1],
  ['0', '0:0-', 0],
  ['0:0.0-0.0', '0.0-0.0', 0],
  ['0:0-0-0', '0-0-0', 0],
  ['0:0:0-0', '0:0:0-0', 0],
  ['  \t0:0-1', '0:0-1', 0],
  ['0:0-1\t  ', '0:0-1', 0],
];

// Extra cases for the rules deb-version(7) states, beyond the suites above.
const RULES: Array<[string, string, number]> = [
  ['1.0~rc1', '1.0', -1], // tilde sorts before the end
  ['1.0~~', '1.0~~a', -1],
  ['1.0a', '1.0+', -1], // letters before non-letters
  ['1.0+', '1.0.', -1], // non-letters by ASCII
  ['1.10', '1.9', 1], // digit runs numerically
  ['1.0-1', '1.0-1ubuntu1', -1],
  ['1:1.0', '2.0', 1], // epoch dominates
  ['1.2.3-99999999999999999999', '1.2.3-100000000000000000000', -1], // no overflow
  ['7.88.1-10+deb12u5', '7.88.1-10+deb12u4', 1],
  ['2.36-9+deb12u4', '2.36-9+deb12u10', -1],
];

function table(): Array<[string, string, number]> {
  return DPKG_VERSION_T.trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .map(([a, b, r]) => [a!, b!, Number(r)]);
}

describe('dpkg ordering', () => {
  it('agrees with dpkg Dpkg_Version.t in both directions', () => {
    const rows = table();
    assert.equal(rows.length, 44);
    for (const [a, b, r] of rows) {
      assert.equal(dpkg.compare(a, b), r, `${a} vs ${b}`);
      assert.equal(dpkg.compare(b, a), flip(r), `${b} vs ${a}`);
    }
  });

  it('agrees with dpkg t-version.c', () => {
    for (const [a, b, r] of T_VERSION_C) assert.equal(dpkg.compare(a, b), r, `${a} vs ${b}`);
  });

  it('follows the deb-version(7) rules', () => {
    for (const [a, b, r] of RULES) {
      assert.equal(dpkg.compare(a, b), r, `${a} vs ${b}`);
      assert.equal(dpkg.compare(b, a), flip(r), `${b} vs ${a}`);
    }
  });

  it('accepts what dpkg parses and rejects what it refuses', () => {
    const valid = ['0', '0:0', '0:0-', '0:0-0', '1:0', '0:0-0-0', '0:0:0-0', '0:09azAZ.-+~:-0', '0:0-azAZ09.+~', '1.2.3-4', '0foo-'];
    for (const v of valid) assert.equal(dpkg.isValid(v), true, v);
    const invalid = ['', '  ', '0:', '0:0 0-1', '-1:0-1', '999999999999999999999999:0-1', 'a:0-0', 'A:0-0', '-0', '0:-0', '0:abc3-0', 'foo5.2', '0:foo5.2', '10a:5.2', '5.2@3-2', '0:0-0:0'];
    for (const v of invalid) assert.equal(dpkg.isValid(v), false, v);
    for (const ch of '!#@$%&/|\\<>()[]{};,_=*^\'') {
      assert.equal(dpkg.isValid(`0:0${ch}-0`), false, `upstream with ${ch}`);
      assert.equal(dpkg.isValid(`0:0-0${ch}`), false, `revision with ${ch}`);
    }
  });

  it('gives the same order as the direct port of verrevcmp, for every pair in the tables', () => {
    const direct = (a: string, b: string) => {
      const x = splitDeb(a);
      const y = splitDeb(b);
      const epoch = (e: string) => (/^[0-9]+$/.test(e) ? e : '0');
      return compareDigits(epoch(x.epoch), epoch(y.epoch)) || verrevcmp(x.upstream, y.upstream) || verrevcmp(x.revision, y.revision);
    };
    // biome-ignore lint/complexity/noFlatMapIdentity: the rows are [a, b, expected]: only a and b are versions
    const all = [...new Set([...table(), ...T_VERSION_C, ...RULES].flatMap(([a, b]) => [a, b]))];
    assert.ok(all.length > 80);
    for (const a of all) for (const b of all) assert.equal(dpkg.compare(a, b), direct(a, b), `${a} vs ${b}`);
  });

  it('compares pre-parsed versions the same way', () => {
    const a = dpkg.parse('1:2.3-4');
    const b = dpkg.parse('1:2.3-10');
    assert.equal(dpkg.compareParsed(a, b), -1);
    assert.equal(dpkg.compareParsed(b, a), 1);
  });
});
