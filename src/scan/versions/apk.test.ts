import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apk } from './apk.js';

/** The expected result with the operands swapped (never -0, which strictEqual tells from 0). */
const flip = (r: number) => (r === 0 ? 0 : -r);

// From apk-tools' own test data (test/version.data): "a op b", several per line here,
// separated by commas. A representative subset of the ~540 lines, including every line with
// a suffix, letter, leading zero or revision edge case, and the file's trailing additions.
const APK_VERSION_DATA = `
2.34 > 0.1.0_alpha, 23_foo > 4_beta, 1.0 < 1.0bc, 0.1.0_alpha = 0.1.0_alpha
0.1.0_alpha < 0.1.3_alpha, 0.1.3_alpha > 0.1.0_alpha, 0.1.0_alpha2 > 0.1.0_alpha, 0.1.0_alpha < 2.2.39-r1
2.2.39-r1 > 1.0.4-r3, 1.0.4-r3 < 1.0.4-r4, 1.0.4-r4 < 1.6, 1.6 > 1.0.2, 1.0.2 > 0.7-r1, 0.7-r1 < 1.0.0
1.0.0 < 1.0.1, 1.0.1 < 1.1, 1.1 > 1.1_alpha1, 1.1_alpha1 < 1.2.1, 1.2.1 > 1.2, 1.2 < 1.3_alpha
1.3_alpha < 1.3_alpha2, 1.3_alpha2 < 1.3_alpha3, 1.3_alpha8 > 0.6.0, 0.7.0 < 0.8_beta1, 0.8_beta1 < 0.8_beta2
0.8_beta4 < 4.8-r1, 4.8-r1 > 3.10.18-r1, 3.10.18-r1 > 2.3.0b-r1, 2.3.0b-r1 < 2.3.0b-r2, 2.3.0b-r4 > 0.12.1
0.12.3 > 0.12, 0.12 < 0.13_beta1, 0.13_beta1 < 0.13_beta2, 0.13_beta5 > 0.9.12, 0.9.12 < 0.9.13
1.2.11 < 1.2.12.1, 1.2.12.1 < 1.2.13, 0.2.0-r1 = 0.2.0-r1, 0.2.0-r1 < 3.1_p16, 3.1_p16 < 3.1_p17
3.1_p17 > 1.06-r6, 1.06-r6 < 006, 006 > 1.0.0, 1.2.2-r1 > 1.2.2, 9.3.4-r2 > 9.3.4, 2.16.1-r3 = 2.16.1-r3
2.59 < 20050718-r1, 20050718-r1 < 20050718-r2, 20050718-r2 > 3.9.8-r5, 3.9.8-r5 > 2.01.01_alpha10
2.01.01_alpha10 > 0.94, 0.94 < 1.0, 1.0 > 0.99.3.20040818, 0.99.3.20040818 > 0.7, 1.39 > 1.00_beta2
1.00_beta2 > 0.9.2, 0.5.2.7 < 4.2.52_p2-r1, 4.2.52_p2-r1 < 4.2.52_p4-r2, 4.2.52_p4-r2 > 1.02.07
1.02.07 < 1.02.10-r1, 9 > 2.18.3-r10, 2.18.3-r10 > 1.05-r18, 1.05-r18 < 1.05-r19, 2.8 < 2.20.1
2.38 < 20050405, 20050405 > 1.8, 2.11-r1 > 2.11, 1.0.0 < 10-r1, 10-r1 > 4, 0.7.3-r2 > 0.7.3
2.4.2 < 20060720, 20060720 > 3.0.20060720, 3.0.20060720 < 20060720, 1.1 = 1.1, 0.7.18-r2 < 0.17-r6
1.4.4-r1 < 2.1.9.200602141850, 2.1.9.200602141850 > 1.6, 2.5.1-r8 < 2.5.1a-r1, 2.5.1a-r1 > 1.19.2-r1
1.3.5-r10 > 1.3.5-r8, 1.3.5-r8 < 1.3.5-r9, 20040923-r2 > 20040401, 20040401 > 2.0.0_rc3-r1
2.0.0_rc3-r1 > 1.5, 0.99.163 < 2.6.15.20060110, 2.6.15.20060110 < 2.6.16.20060323, 3.0.0-r2 < 021109-r3
021109-r3 < 20060512, 0.9.16-r1 < 3.9_pre20060124, 3.9_pre20060124 > 0.01, 1.1.7 < 6b-r7, 6b-r7 > 1.12-r7
0.10.0-r1 > 0.10.0, 0.10.0 < 0.10.1_rc1, 0.10.1_rc1 > 0.9.11, 0.9.11 < 394, 2.0.2 > 1.1a, 1.1a < 1.3a
1.0-r1 > 0.15.1b, 0.15.1b < 1.0.1, 1.06-r2 > 0.15.1b-r2, 0.15.1b-r2 > 0.15.1b, 22.7-r1 < 22.7.3-r1
22.7.3-r1 > 22.7, 22.7 > 2.1_pre20, 2.1_pre20 < 2.1_pre26, 2.10.1 > 02.08.01b, 02.08.01b < 4.77
8.1.2.20040524-r1 < 8.1.2.20050715-r1, 8.1.2.20050715-r1 < 20030215, 3.81 > 1.6d, 1.6d > 1.2.07.8
1.2.07.8 < 1.2.12.04, 1.2.12.04 < 1.2.12.05, 1.07-r1 < 1.07.5, 1.07.5 > 1.07, 20061003 > 0.1_pre20060810
0.1_pre20060810 < 0.1_pre20060817, 0.1_pre20060817 < 1.0.3, 3.3.17 > 0.59s-r11, 0.59s-r11 < 0.65
1.60-r12 < 110-r8, 4.20 > 0.20070118, 0.20070118 < 0.20070207_rc1, 0.20070207_rc1 < 1.0
2.3.30-r2 < 3.7_p1, 4.3_p2-r1 < 4.3_p2-r5, 4.3_p2-r5 < 4.4_p1-r6, 4.5_p1-r1 > 4.5_p1, 4.5_p1 > 0.9.8c-r1
0.9.8c-r1 < 0.9.8d, 2.2.3-r2 < 013, 013 < 014-r1, 0.1.23 < 5b-r9, 5b-r9 > 2.2.10, 3.2.7 > 0.3.1_rc8
0.3.1_rc8 < 22.2, 5.7-r3 > 5.1_p4, 5.1_p4 > 1.0.5, 1.7 < 1.7b, 1.7b < 1.8.4-r3, 1.8.5 < 1.8.5_p2
1.4.9-r2 < 2.9.11_pre20051101-r2, 2.9.11_pre20051101-r2 < 2.9.11_pre20051101-r3
2.9.11_pre20051101-r3 > 2.9.11_pre20051101, 2.9.11_pre20051101 < 2.9.11_pre20061021-r1
1.3.2-r3 < 1.6.8_p12-r1, 1.6.8_p12-r1 > 1.6.8_p9-r2, 0.40-r1 < 2.25b-r5, 2.25b-r5 < 2.25b-r6
1.0.5 < 1.4_p12-r2, 1.4_p12-r2 < 1.4_p12-r5, 0.9.28-r2 < 0.9.28.1, 0.9.28.1 < 087-r1, 087-r1 < 103
104-r11 > 104-r9, 5.52-r1 > 1.2.5_rc2, 1.2.5_rc2 > 0.1, 20040406-r1 > 2.12r-r4, 2.12r-r4 < 2.12r-r5
7.0.17 < 7.0.174, 1.1.1-r3 > 0.3.4_pre20061029, 0.3.4_pre20061029 < 0.4.0, 1.2.9.1-r1 > 1.2.9.1
1.3-r0 < 1.3.1-r0, 1.3_pre1-r1 < 1.3.2, 1.0_p10-r0 > 1.0_p9-r0, 0.1.0_alpha_pre2 < 0.1.0_alpha
1.0.0_pre20191002222144-r0 < 1.0.0_pre20210530193627-r0, 6.0_pre1 < 6.0, 6.1_pre1 < 6.1
6.0_p1 > 6.0, 6.1_p1 > 6.1
`;

// Cases for rules of apk-tools' current tokenizer that the data file above predates.
const RULES: Array<[string, string, number]> = [
  ['1.0_alpha', '1.0_beta', -1],
  ['1.0_beta', '1.0_pre', -1],
  ['1.0_pre', '1.0_rc', -1],
  ['1.0_rc', '1.0', -1],
  ['1.0', '1.0_cvs', -1],
  ['1.0_cvs', '1.0_svn', -1],
  ['1.0_svn', '1.0_git', -1],
  ['1.0_git', '1.0_hg', -1],
  ['1.0_hg', '1.0_p', -1],
  ['1.0_p1', '1.0-r1', 1], // a post-release suffix outranks a revision bump
  ['1.0-r1', '1.0-r10', -1],
  ['1.0~abc', '1.0~abd', -1], // commit hashes compare as strings
  ['1.0~abc-r1', '1.0~abc-r2', -1],
  ['1.0~abc', '1.0', 1], // more tokens win unless the extra one is a pre-release suffix
  ['1.02', '1.1', -1], // leading zero: string comparison
  ['1.0', '1.0.0', -1],
  ['1.2.3', '1.2.3a', -1],
  ['3.0.14-r0', '3.0.15-r0', -1],
  ['1.36.1-r29', '1.36.1-r5', 1],
];

function rows(): Array<[string, string, number]> {
  const op: Record<string, number> = { '<': -1, '=': 0, '>': 1 };
  return APK_VERSION_DATA.trim()
    .split(/[\n,]/)
    .map((s) => s.trim().split(/\s+/))
    .map(([a, o, b]) => [a!, b!, op[o!]!]);
}

describe('apk ordering', () => {
  it('agrees with apk-tools test/version.data in both directions', () => {
    const data = rows();
    assert.ok(data.length >= 170, `only ${data.length} vectors`);
    for (const [a, b, r] of data) {
      assert.equal(apk.compare(a, b), r, `${a} vs ${b}`);
      assert.equal(apk.compare(b, a), flip(r), `${b} vs ${a}`);
    }
  });

  it('orders suffixes, hashes and revisions as apk-tools does', () => {
    for (const [a, b, r] of RULES) {
      assert.equal(apk.compare(a, b), r, `${a} vs ${b}`);
      assert.equal(apk.compare(b, a), flip(r), `${b} vs ${a}`);
    }
  });

  it('validates with the same tokenizer', () => {
    for (const v of ['1', '1.2.3', '1.2.3a', '1.2_alpha1', '1.2_p1-r3', '1.0~abc123-r0', '6.5_p20250503-r0', '2.39.0_rc1'])
      assert.equal(apk.isValid(v), true, v);
    for (const v of ['', 'foo', 'a.39.0-', '1.0bc', '23_foo', '1.0-1', '1.0-r', '1._alpha', '1.0~', '1.0~xyz', '1.0a1', 'v1.0'])
      assert.equal(apk.isValid(v), false, v);
  });
});
