import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { advisorySeverity, severityFromWord } from './severity.js';

const V31_CRITICAL = 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'; // 9.8
const V31_MEDIUM = 'CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:N/A:N'; // 4.3
const V4 = 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N';

describe('advisory severity', () => {
  it('maps database rating words to ECR severities', () => {
    const cases: Array<[string, string | undefined]> = [
      ['CRITICAL', 'CRITICAL'],
      ['HIGH', 'HIGH'],
      ['MODERATE', 'MEDIUM'],
      ['LOW', 'LOW'],
      ['Important', 'HIGH'],
      ['medium', 'MEDIUM'],
      ['low**', 'LOW'],
      ['unimportant', 'INFORMATIONAL'],
      ['negligible', 'INFORMATIONAL'],
      ['not yet assigned', undefined],
      ['untriaged', undefined],
      ['end-of-life', undefined],
    ];
    for (const [word, want] of cases) assert.equal(severityFromWord(word), want, word);
  });

  it('scores CVSS for language packages, preferring v3 over v4 and v2', () => {
    const adv = {
      severity: [
        { type: 'CVSS_V2', score: 'AV:N/AC:L/Au:N/C:P/I:N/A:N' },
        { type: 'CVSS_V4', score: V4 },
        { type: 'CVSS_V3', score: V31_CRITICAL },
      ],
      database_specific: { severity: 'MODERATE' },
    };
    assert.deepEqual(advisorySeverity(adv, undefined, 'npm'), { severity: 'CRITICAL', cvss: { vector: V31_CRITICAL, version: '3.1', score: 9.8 } });
  });

  it("prefers a distribution's own rating for its packages", () => {
    const adv = { severity: [{ type: 'CVSS_V3', score: V31_CRITICAL }] };
    const entry = { ecosystem_specific: { urgency: 'low' } };
    assert.equal(advisorySeverity(adv, entry, 'Debian').severity, 'LOW');
    assert.equal(advisorySeverity(adv, entry, 'PyPI').severity, 'CRITICAL');
    const ubuntu = {
      severity: [
        { type: 'Ubuntu', score: 'medium' },
        { type: 'CVSS_V3', score: V31_CRITICAL },
      ],
    };
    assert.equal(advisorySeverity(ubuntu, undefined, 'Ubuntu').severity, 'MEDIUM');
    // A word that carries no rating falls back to CVSS.
    assert.equal(advisorySeverity(adv, { ecosystem_specific: { urgency: 'not yet assigned' } }, 'Debian').severity, 'CRITICAL');
  });

  it("uses an affected entry's own severity list over the record's", () => {
    const adv = { severity: [{ type: 'CVSS_V3', score: V31_CRITICAL }] };
    const entry = { severity: [{ type: 'CVSS_V3', score: V31_MEDIUM }] };
    assert.equal(advisorySeverity(adv, entry, 'npm').severity, 'MEDIUM');
  });

  it("reads GHSA's database_specific.cvss when the record has no severity list", () => {
    const entry = { database_specific: { cvss: { score: 9.1, vectorString: 'CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N' } } };
    assert.deepEqual(advisorySeverity({}, entry, 'Maven'), {
      severity: 'CRITICAL',
      cvss: { vector: 'CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N', version: '3.0', score: 9.1 },
    });
  });

  it('rates a v4-only record from a score given beside it, else from a word, else UNDEFINED', () => {
    const listed = { severity: [{ type: 'CVSS_V4', score: V4 }] };
    assert.deepEqual(advisorySeverity({ ...listed, database_specific: { cvss: { score: 9.3, vectorString: V4 } } }, undefined, 'npm'), {
      severity: 'CRITICAL',
      cvss: { vector: V4, version: '4.0', score: 9.3 },
    });
    assert.deepEqual(advisorySeverity({ ...listed, database_specific: { severity: 'HIGH' } }, undefined, 'npm'), {
      severity: 'HIGH',
      cvss: { vector: V4, version: '4.0' },
    });
    assert.deepEqual(advisorySeverity(listed, undefined, 'npm'), { severity: 'UNDEFINED', cvss: { vector: V4, version: '4.0' } });
  });

  it('reports a zero score as INFORMATIONAL and no data as UNDEFINED', () => {
    const zero = { severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N' }] };
    assert.equal(advisorySeverity(zero, undefined, 'Go').severity, 'INFORMATIONAL');
    assert.deepEqual(advisorySeverity({}, undefined, 'Go'), { severity: 'UNDEFINED' });
    assert.deepEqual(advisorySeverity({ severity: [{ type: 'CVSS_V3', score: 'garbage' }] }, undefined, 'Go'), { severity: 'UNDEFINED' });
  });
});
