import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cvssBaseScore, parseCvss, roundup, severityFromScore, severityFromV2Score } from './cvss.js';
import { V2_GRIDS, V31_GRIDS, expandGrid } from './cvss.test-data.js';

function score(vector: string): number | undefined {
  const v = parseCvss(vector);
  assert.ok(v, `unparsed: ${vector}`);
  return cvssBaseScore(v);
}

describe('CVSS v3.x', () => {
  it('scores FIRST-calculator vectors exactly (459 of vectors_simple31)', () => {
    let n = 0;
    for (const [prefix, scores] of V31_GRIDS) {
      for (const [suffix, want] of expandGrid(prefix, scores, ['H', 'L', 'N'])) {
        assert.equal(score(`CVSS:3.1/${suffix}`), want, suffix);
        n++;
      }
    }
    assert.equal(n, 459);
  });

  it('scores v3.0 vectors, in any metric order and with temporal/environmental metrics', () => {
    // RedHatProductSecurity/cvss tests/vectors_calculator3 (FIRST's v3.0 calculator).
    assert.equal(score('CVSS:3.0/S:U/AV:N/AC:L/PR:H/UI:N/C:L/I:L/A:N/E:F/RL:X'), 3.8);
    assert.equal(score('CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:H/I:H/A:N/E:H/RL:O/RC:C/CR:H/IR:H/AR:H/MAV:N/MAC:L/MPR:L/MUI:N/MS:C/MC:H/MI:H/MA:H'), 9.3);
    // Heartbleed (CVE-2014-0160), the first example of FIRST's v3.x examples document.
    assert.equal(score('CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N'), 7.5);
  });

  it('implements Roundup as the v3.1 specification defines it (Appendix A)', () => {
    assert.equal(roundup(4.02), 4.1);
    assert.equal(roundup(4.0), 4.0);
    // A float-error value just above a tenth stays on that tenth.
    assert.equal(roundup(4.000000001), 4.0);
    assert.equal(roundup(0.1 + 0.2), 0.3);
    assert.equal(roundup(9.99), 10.0);
  });

  it('rates scores on the qualitative scale', () => {
    const cases: Array<[number, string]> = [
      [0, 'NONE'],
      [0.1, 'LOW'],
      [3.9, 'LOW'],
      [4.0, 'MEDIUM'],
      [6.9, 'MEDIUM'],
      [7.0, 'HIGH'],
      [8.9, 'HIGH'],
      [9.0, 'CRITICAL'],
      [10, 'CRITICAL'],
    ];
    for (const [s, want] of cases) assert.equal(severityFromScore(s), want, String(s));
    // RedHatProductSecurity/cvss test_severities (base column).
    const vectors: Array<[string, string]> = [
      ['CVSS:3.0/AV:N/AC:H/PR:L/UI:N/S:C/C:N/I:N/A:N', 'NONE'],
      ['CVSS:3.0/AV:P/AC:H/PR:L/UI:R/S:U/C:N/I:L/A:N', 'LOW'],
      ['CVSS:3.0/AV:N/AC:H/PR:L/UI:R/S:U/C:N/I:L/A:N', 'LOW'],
      ['CVSS:3.0/AV:N/AC:H/PR:L/UI:N/S:U/C:N/I:N/A:L', 'LOW'],
      ['CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:L', 'MEDIUM'],
      ['CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:L/A:L', 'MEDIUM'],
      ['CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:H/A:N', 'MEDIUM'],
      ['CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:L', 'HIGH'],
      ['CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:L/A:H', 'HIGH'],
      ['CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:L/A:N', 'CRITICAL'],
      ['CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:H', 'CRITICAL'],
    ];
    for (const [v, want] of vectors) assert.equal(severityFromScore(score(v)!), want, v);
  });

  it('rejects malformed vectors (RedHatProductSecurity/cvss test_exceptions)', () => {
    const bad = [
      '',
      '/',
      'CVSS:3.0/AV:P/AC:H/PR:H/UI:R/S:C/C:H/I:H/A:N/E:H/RL:O/RC:R/CR:H/MAC:H/MCL',
      'CVSS:3.0/AX:P/AC:H/PR:H/UI:R/S:C/C:H/I:H/A:N',
      'CVSS:3.0/AV:W/AC:H/PR:H/UI:R/S:C/C:H/I:H/A:N',
      'CVSS:3.0/AV:P/AV:P/AC:H/PR:H/UI:R/S:C/C:H/I:H/A:N',
      'CVSS:3.0/AV:P/AV:L/AC:H/PR:H/UI:R/S:C/C:H/I:H/A:N',
      'CVSS:3.0/AV:P/AC:H/UI:R/S:C/C:H/I:H/A:N',
      'CVSS:3.0/AV:N/AC:L/PR:N/UI:N/C:H/I:H/A:H',
      'AV:P/AC:H/PR:H/UI:R/S:C/C:H/I:H/A:N',
      'CVSS:3.2/AV:P/AC:H/PR:H/UI:R/S:C/C:H/I:H/A:N',
      'CVSS:3.0//AC:H/PR:H/UI:R/S:U/C:L/I:N/A:L',
      `CVSS:3.1/AV:N${'/E:X'.repeat(200)}`,
    ];
    for (const v of bad) assert.equal(parseCvss(v), undefined, v);
  });
});

describe('CVSS v2', () => {
  it('scores vectors_simple2 blocks exactly (324 vectors)', () => {
    let n = 0;
    for (const [prefix, scores] of V2_GRIDS) {
      for (const [suffix, want] of expandGrid(prefix, scores, ['N', 'P', 'C'])) {
        assert.equal(score(suffix), want, suffix);
        n++;
      }
    }
    assert.equal(n, 324);
  });

  it('accepts temporal metrics and NVD parentheses, and rates on the v2 scale', () => {
    assert.equal(score('(AV:N/AC:L/Au:N/C:P/I:N/A:N)'), 5.0); // Heartbleed's NVD v2 vector
    assert.equal(score('AV:N/AC:L/Au:N/C:C/I:C/A:C/E:F/RL:OF/RC:C'), 10.0);
    assert.equal(severityFromV2Score(3.9), 'LOW');
    assert.equal(severityFromV2Score(4.0), 'MEDIUM');
    assert.equal(severityFromV2Score(10), 'HIGH');
    assert.equal(parseCvss('AV:N/AC:L/Au:N/C:P/I:N'), undefined);
  });
});

describe('CVSS v4.0', () => {
  it('parses base, threat, environmental and supplemental metrics but does not score', () => {
    const examples = [
      'CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N', // the OSV schema's example
      'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N',
      'CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:A/MSI:S/MSA:S/S:P/AU:Y/R:U/V:C/RE:H/U:Red',
    ];
    for (const v of examples) {
      const parsed = parseCvss(v);
      assert.equal(parsed?.version, '4.0', v);
      assert.equal(cvssBaseScore(parsed!), undefined);
    }
    assert.equal(parseCvss('CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N'), undefined); // SA missing
    assert.equal(parseCvss('CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:R/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N'), undefined); // UI:R is v3
    assert.equal(parseCvss('CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:L/VI:L/VA:N/SC:N/SI:S/SA:N'), undefined); // S only in MSI
  });
});
