import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rpm, rpmvercmp } from './rpm.js';

/** The expected result with the operands swapped (never -0, which strictEqual tells from 0). */
const flip = (r: number) => (r === 0 ? 0 : -r);

// rpm's own tests (tests/rpmvercmp.at): RPMVERCMP(a, b, expected), one per line here.
const RPMVERCMP_AT = `
1.0 1.0 0|1.0 2.0 -1|2.0 1.0 1|2.0.1 2.0.1 0|2.0 2.0.1 -1|2.0.1 2.0 1
2.0.1a 2.0.1a 0|2.0.1a 2.0.1 1|2.0.1 2.0.1a -1|5.5p1 5.5p1 0|5.5p1 5.5p2 -1|5.5p2 5.5p1 1
5.5p10 5.5p10 0|5.5p1 5.5p10 -1|5.5p10 5.5p1 1|10xyz 10.1xyz -1|10.1xyz 10xyz 1
xyz10 xyz10 0|xyz10 xyz10.1 -1|xyz10.1 xyz10 1|xyz.4 xyz.4 0|xyz.4 8 -1|8 xyz.4 1|xyz.4 2 -1|2 xyz.4 1
5.5p2 5.6p1 -1|5.6p1 5.5p2 1|5.6p1 6.5p1 -1|6.5p1 5.6p1 1|6.0.rc1 6.0 1|6.0 6.0.rc1 -1
10b2 10a1 1|10a2 10b2 -1|1.0aa 1.0aa 0|1.0a 1.0aa -1|1.0aa 1.0a 1
10.0001 10.0001 0|10.0001 10.1 0|10.1 10.0001 0|10.0001 10.0039 -1|10.0039 10.0001 1
4.999.9 5.0 -1|5.0 4.999.9 1|20101121 20101121 0|20101121 20101122 -1|20101122 20101121 1
2_0 2_0 0|2.0 2_0 0|2_0 2.0 0|a a 0|a+ a+ 0|a+ a_ 0|a_ a+ 0|+a +a 0|+a _a 0|_a +a 0
+_ +_ 0|_+ +_ 0|_+ _+ 0|+ _ 0|_ + 0
1.0~rc1 1.0~rc1 0|1.0~rc1 1.0 -1|1.0 1.0~rc1 1|1.0~rc1 1.0~rc2 -1|1.0~rc2 1.0~rc1 1
1.0~rc1~git123 1.0~rc1~git123 0|1.0~rc1~git123 1.0~rc1 -1|1.0~rc1 1.0~rc1~git123 1
`;

// OSV's Red Hat ordering fixture (osv-scanner internal/semantic/fixtures/redhat-versions.txt):
// caret semantics, epochs, releases and non-ASCII handling, as "a op b".
const OSV_REDHAT = `
1.0~rc1 < 1.0arc1|1:1 = 1:1|0:1 < 1:1|0:1 < 1:2|0:1~1 < 1:2|3:1~1 > 1:2|1~1 < 1:2|3 < 1:2
13 < 14:2|13:5 < 14:2|13:5 > 04:2|13:5 > 004:2|013:5 > 004:2|130:5 > 004:2|184:2 > 177:5|01:2 = 1:2
a:1 = a:1|a:1 < b:1|a:1 < a:2|a:1~1 < a:2|c:1~1 > a:2|a1:1 = a1:1|a1:1 < b1:1|a1:1 < a1:2|a2:1 > a1:2
b1:1 > a2:1|a:1 < a1:1|b:1 > a1:1|b~1:1 > a1:1
1-123 > 1-2|1-1 = 1-1|1-2 > 1-1|1 < 1-1|1 < 1-0|1 < 1-|1- = 1-|1-123 > 1-1.el7
0:3.10.0-229.el7 < 0:3.10.0-229.1.2.ael7b|0:2.4.21-9.EL < 0:2.4.21-9.0.1.EL|1-1.a > 1-1.|1-1. = 1-1.
1-1. = 1-1|1-1 < 1-1.1|1. = 1|1-1.a = 1-1.a|1-1.a < 1-1.e|1-1.c > 1-1.b|1-1.4 > 1-1.3|1-1.1 < 1-1.2
1-1.ael7b < 1-1.el7|0:3.10.0-229.1.2.ael7b < 0:3.10.0-229.1.2.el7|0:3.10.0-229.1.2.ael7b < 0:3.10.0-229.4.2.ael7b
1.0^ = 1.0^|1.0^ > 1.0|1.0 < 1.0^|1.0^git1 = 1.0^git1|1.0^git1 > 1.0|1.0 < 1.0^git1|1.0^git1 < 1.0^git2
1.0^git2 > 1.0^git1|1.0^git1 < 1.01|1.01 > 1.0^git1|1.0^20160101 = 1.0^20160101|1.0^20160101 < 1.0.1
1.0.1 > 1.0^20160101|1.0^20160101^git1 = 1.0^20160101^git1|1.0^20160102 > 1.0^20160101^git1
1.0^20160101^git1 < 1.0^20160102|1.0~rc1^git1 = 1.0~rc1^git1|1.0~rc1^git1 > 1.0~rc1|1.0~rc1 < 1.0~rc1^git1
1.0^git1~pre = 1.0^git1~pre|1.0^git1 > 1.0^git1~pre|1.0^git1~pre < 1.0^git1
1.1.α = 1.1.α|1.1.α = 1.1.β|1.1.β = 1.1.α|1.1.αα = 1.1.α|1.1.α = 1.1.ββ|1.1.ββ = 1.1.αα
1.1.a < 1.2.ββ|1.1.a < 0:1.2.ββ|1.1.α < 1.1.a
`;

function cells(text: string): string[][] {
  return text
    .trim()
    .split(/[\n|]/)
    .map((s) => s.trim().split(/\s+/));
}

describe('rpm ordering', () => {
  it('agrees with rpm tests/rpmvercmp.at', () => {
    const rows = cells(RPMVERCMP_AT);
    assert.equal(rows.length, 69);
    for (const [a, b, r] of rows) assert.equal(rpmvercmp(a!, b!), Number(r), `rpmvercmp(${a}, ${b})`);
  });

  it("agrees with OSV's Red Hat fixture for full EVR strings", () => {
    const op: Record<string, number> = { '<': -1, '=': 0, '>': 1 };
    const rows = cells(OSV_REDHAT);
    assert.ok(rows.length >= 80, `only ${rows.length}`);
    for (const [a, o, b] of rows) {
      assert.equal(rpm.compare(a!, b!), op[o!], `${a} ${o} ${b}`);
      assert.equal(rpm.compare(b!, a!), flip(op[o!]!), `${b} vs ${a}`);
    }
  });

  it('orders real distribution releases', () => {
    assert.equal(rpm.compare('1:3.0.7-25.el9_3', '1:3.0.7-24.el9'), 1);
    assert.equal(rpm.compare('0:1.2.11-40.el9', '1.2.11-40.el9'), 0);
    assert.equal(rpm.compare('2.28-236.el9_2.1', '2.28-236.el9'), 1);
    assert.equal(rpm.compare('5.14.0-362.8.1.el9_3', '5.14.0-362.13.1.el9_3'), -1);
  });

  it('validates epoch:version-release', () => {
    for (const v of ['1.0', '1:1.0-1.el9', '0:3.10.0-229.el7', '1.0~rc1', '1.0^git1-2', '2.0_1']) assert.equal(rpm.isValid(v), true, v);
    for (const v of ['', 'a:1', '1.0-1-2', '1.0 1', ':1.0', '1.0-']) assert.equal(rpm.isValid(v), false, v);
  });
});
