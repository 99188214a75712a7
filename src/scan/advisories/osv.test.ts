import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LIMITS, MAX_RECORD_BYTES, type OsvAdvisory, affects, parseOsv } from './osv.js';

// ossf/osv-schema tools/ghsa/testdata/full_ranges.osv.json (details shortened).
const GHSA_FULL_RANGES = {
  schema_version: '1.5.0',
  id: 'GHSA-mr95-9rr4-668f',
  aliases: ['CVE-2018-16115'],
  published: '2018-10-22T20:44:26Z',
  modified: '2021-09-15T20:58:47Z',
  summary: 'High severity vulnerability that affects com.typesafe.akka:akka-actor_2.11 and com.typesafe.akka:akka-actor_2.12',
  details: 'Lightbend Akka 2.5.x before 2.5.16 allows message disclosure and modification because of an RNG error.',
  references: [{ type: 'ADVISORY', url: 'https://github.com/advisories/GHSA-mr95-9rr4-668f' }],
  affected: ['2.12', '2.11'].map((scala) => ({
    package: { ecosystem: 'Maven', name: `com.typesafe.akka:akka-actor_${scala}` },
    ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '2.5.0' }, { fixed: '2.5.16' }] }],
    versions: [],
    database_specific: { cvss: { score: 9.1, vectorString: 'CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N' } },
  })),
};

function record(affected: unknown[], extra: Record<string, unknown> = {}): OsvAdvisory {
  const r = parseOsv(JSON.stringify({ id: 'TEST-1', modified: '2024-01-01T00:00:00Z', affected, ...extra }));
  assert.ok(r.ok, r.ok ? '' : r.error);
  return r.advisory;
}

const range = (type: string, ...events: object[]) => ({ type, events });

describe('parseOsv', () => {
  it('accepts a real GHSA record and keeps the fields the matcher needs', () => {
    const r = parseOsv(JSON.stringify(GHSA_FULL_RANGES));
    assert.ok(r.ok);
    assert.equal(r.advisory.id, 'GHSA-mr95-9rr4-668f');
    assert.deepEqual(r.advisory.aliases, ['CVE-2018-16115']);
    assert.equal(r.advisory.affected?.[1]?.package?.name, 'com.typesafe.akka:akka-actor_2.11');
    assert.deepEqual(r.advisory.affected?.[0]?.ranges?.[0]?.events, [{ introduced: '2.5.0' }, { fixed: '2.5.16' }]);
  });

  it('accepts bytes, ignores unknown fields, and accepts offsets in timestamps', () => {
    const text = JSON.stringify({ id: 'X-1', modified: '2024-05-01T10:00:00.123+02:00', description: 'not a schema field' });
    const r = parseOsv(new TextEncoder().encode(text));
    assert.ok(r.ok);
    assert.equal('description' in r.advisory, false);
  });

  it('refuses oversized records before parsing them', () => {
    const big = JSON.stringify({ id: 'X', modified: '2024-01-01T00:00:00Z', details: 'x'.repeat(MAX_RECORD_BYTES) });
    const r = parseOsv(big);
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.error, /limit is 1048576/);
  });

  it('rejects records that break the schema, naming where', () => {
    const base = { id: 'X-1', modified: '2024-01-01T00:00:00Z' };
    const bad: Array<[unknown, RegExp]> = [
      ['{', /not JSON/],
      [{ modified: base.modified }, /^id:/],
      [{ id: 'X-1' }, /^modified:/],
      [{ ...base, modified: 'yesterday' }, /RFC 3339/],
      [{ ...base, affected: [{ ranges: [range('SEMVER', { introduced: '0', fixed: '1.0.0' })] }] }, /exactly one/],
      [{ ...base, affected: [{ ranges: [range('SEMVER', { fixed: '1.0.0' })] }] }, /needs an introduced/],
      [{ ...base, affected: [{ ranges: [range('SEMVER', { introduced: '0' }, { fixed: '1' }, { last_affected: '2' })] }] }, /not both/],
      [{ ...base, affected: [{ ranges: [range('GIT', { introduced: 'abc' })] }] }, /needs repo/],
      [{ ...base, affected: [{ versions: new Array(LIMITS.versions + 1).fill('1.0') }] }, /affected\.0\.versions/],
      [{ ...base, aliases: ['x'.repeat(LIMITS.shortString + 1)] }, /aliases\.0/],
      [[base], /\(record\)/],
    ];
    for (const [input, pattern] of bad) {
      const r = parseOsv(typeof input === 'string' ? input : JSON.stringify(input));
      assert.equal(r.ok, false, JSON.stringify(input).slice(0, 80));
      assert.match(r.ok ? '' : r.error, pattern);
    }
  });
});

describe('affects', () => {
  it('follows the schema examples: unfixed, fixed, multiple ranges', () => {
    const unfixed = record([{ package: { ecosystem: 'npm', name: 'shiba' }, ranges: [range('SEMVER', { introduced: '0' })] }]);
    assert.deepEqual(affects(unfixed, 'npm', 'shiba', '0.0.1'), { affected: true });
    assert.deepEqual(affects(unfixed, 'npm', 'shiba', '99.0.0'), { affected: true });

    const fixed = record([{ package: { ecosystem: 'npm', name: 'p' }, ranges: [range('SEMVER', { introduced: '0' }, { fixed: '1.0.2' })] }]);
    assert.deepEqual(affects(fixed, 'npm', 'p', '1.0.1'), { affected: true, fixedIn: '1.0.2' });
    assert.deepEqual(affects(fixed, 'npm', 'p', '1.0.2'), { affected: false });
    assert.deepEqual(affects(fixed, 'npm', 'p', '1.0.2-rc.1'), { affected: true, fixedIn: '1.0.2' });

    const multi = record([
      {
        package: { ecosystem: 'npm', name: 'p' },
        ranges: [range('SEMVER', { introduced: '1.0.0' }, { fixed: '1.0.2' }, { introduced: '3.0.0' }, { fixed: '3.2.5' })],
      },
    ]);
    const cases: Array<[string, boolean, string?]> = [
      ['0.9.0', false],
      ['1.0.0', true, '1.0.2'],
      ['1.0.2', false],
      ['2.0.0', false],
      ['3.1.0', true, '3.2.5'],
      ['3.2.5', false],
    ];
    for (const [v, affected, fixedIn] of cases) assert.deepEqual(affects(multi, 'npm', 'p', v), fixedIn ? { affected, fixedIn } : { affected }, v);
  });

  it('treats last_affected as inclusive and gives no fix', () => {
    const adv = record([
      { package: { ecosystem: 'Maven', name: 'com.h2database:h2' }, ranges: [range('ECOSYSTEM', { introduced: '0' }, { last_affected: '2.1.214' })] },
    ]);
    assert.deepEqual(affects(adv, 'Maven', 'com.h2database:h2', '2.1.214'), { affected: true });
    assert.deepEqual(affects(adv, 'Maven', 'com.h2database:h2', '2.1.210'), { affected: true });
    assert.deepEqual(affects(adv, 'Maven', 'com.h2database:h2', '2.2.220'), { affected: false });
  });

  it('honours limit events, "*" meaning infinity', () => {
    const limited = record([{ package: { ecosystem: 'PyPI', name: 'p' }, ranges: [range('ECOSYSTEM', { introduced: '1.0' }, { limit: '2.0' })] }]);
    assert.deepEqual(affects(limited, 'PyPI', 'p', '1.5'), { affected: true });
    assert.deepEqual(affects(limited, 'PyPI', 'p', '2.0'), { affected: false });
    const star = record([{ package: { ecosystem: 'PyPI', name: 'p' }, ranges: [range('ECOSYSTEM', { introduced: '1.0' }, { limit: '*' })] }]);
    assert.deepEqual(affects(star, 'PyPI', 'p', '99'), { affected: true });
  });

  it("sorts events by the ecosystem's ordering, not as written", () => {
    const adv = record([{ package: { ecosystem: 'Maven', name: 'g:a' }, ranges: [range('ECOSYSTEM', { fixed: '1.10' }, { introduced: '1.2' })] }]);
    assert.deepEqual(affects(adv, 'Maven', 'g:a', '1.9'), { affected: true, fixedIn: '1.10' });
    assert.deepEqual(affects(adv, 'Maven', 'g:a', '1.10'), { affected: false });
    assert.deepEqual(affects(adv, 'Maven', 'g:a', '1.1'), { affected: false });
  });

  it('matches the explicit versions list by string, even where no ordering is known', () => {
    const adv = record([
      {
        package: { ecosystem: 'NuGet', name: 'Newtonsoft.Json' },
        versions: ['12.0.1'],
        ranges: [range('ECOSYSTEM', { introduced: '0' }, { fixed: '13.0.1' })],
      },
    ]);
    assert.deepEqual(affects(adv, 'NuGet', 'newtonsoft.json', '12.0.1'), { affected: true });
    // No NuGet ordering: the ECOSYSTEM range cannot be evaluated, so only listed versions match.
    assert.deepEqual(affects(adv, 'NuGet', 'Newtonsoft.Json', '12.0.2'), { affected: false });
  });

  it('ignores GIT ranges', () => {
    const adv = record([
      { package: { ecosystem: 'OSS-Fuzz', name: 'lib' }, ranges: [{ type: 'GIT', repo: 'https://example.test/lib', events: [{ introduced: '0' }] }] },
    ]);
    assert.deepEqual(affects(adv, 'OSS-Fuzz', 'lib', 'anything'), { affected: false });
  });

  it('uses SemVer for SEMVER ranges, reading Go versions with v and +incompatible', () => {
    const adv = record([
      { package: { ecosystem: 'Go', name: 'github.com/docker/docker' }, ranges: [range('SEMVER', { introduced: '0' }, { fixed: '20.10.11+incompatible' })] },
    ]);
    assert.deepEqual(affects(adv, 'Go', 'github.com/docker/docker', 'v20.10.7+incompatible'), { affected: true, fixedIn: '20.10.11+incompatible' });
    assert.deepEqual(affects(adv, 'Go', 'github.com/docker/docker', 'v20.10.11+incompatible'), { affected: false });
  });

  it('scopes distribution advisories to their release and orders with dpkg/apk', () => {
    const adv = record([
      { package: { ecosystem: 'Debian:12', name: 'openssl' }, ranges: [range('ECOSYSTEM', { introduced: '0' }, { fixed: '3.0.11-1~deb12u2' })] },
      { package: { ecosystem: 'Debian:11', name: 'openssl' }, ranges: [range('ECOSYSTEM', { introduced: '0' }, { fixed: '1.1.1w-0+deb11u1' })] },
    ]);
    assert.deepEqual(affects(adv, 'Debian:12', 'openssl', '3.0.11-1~deb12u1'), { affected: true, fixedIn: '3.0.11-1~deb12u2' });
    assert.deepEqual(affects(adv, 'Debian:12', 'openssl', '3.0.11-1~deb12u2'), { affected: false });
    assert.deepEqual(affects(adv, 'Debian:11', 'openssl', '1.1.1n-0+deb11u5'), { affected: true, fixedIn: '1.1.1w-0+deb11u1' });
    assert.deepEqual(affects(adv, 'Debian:10', 'openssl', '1.1.1n-0+deb10u6'), { affected: false });
    const alpine = record([
      { package: { ecosystem: 'Alpine:v3.19', name: 'busybox' }, ranges: [range('ECOSYSTEM', { introduced: '0' }, { fixed: '1.36.1-r29' })] },
    ]);
    assert.deepEqual(affects(alpine, 'Alpine:v3.19', 'busybox', '1.36.1-r5'), { affected: true, fixedIn: '1.36.1-r29' });
    assert.deepEqual(affects(alpine, 'Alpine:3.19.1', 'busybox', '1.36.1-r29'), { affected: false });
  });

  it('normalizes package names per ecosystem', () => {
    const adv = record([{ package: { ecosystem: 'PyPI', name: 'django' }, ranges: [range('ECOSYSTEM', { introduced: '4.2' }, { fixed: '4.2.8' })] }]);
    assert.deepEqual(affects(adv, 'PyPI', 'Django', '4.2.7'), { affected: true, fixedIn: '4.2.8' });
    assert.deepEqual(affects(adv, 'pypi', 'DJANGO', '4.2.8'), { affected: false });
    assert.deepEqual(affects(adv, 'npm', 'django', '4.2.7'), { affected: false });
  });

  it('reports the greatest fix across affected ranges, none if one is unfixed', () => {
    const two = record([
      {
        package: { ecosystem: 'PyPI', name: 'p' },
        ranges: [range('ECOSYSTEM', { introduced: '1.0' }, { fixed: '1.5' }), range('ECOSYSTEM', { introduced: '1.2' }, { fixed: '1.7' })],
      },
    ]);
    assert.deepEqual(affects(two, 'PyPI', 'p', '1.3'), { affected: true, fixedIn: '1.7' });
    const open = record([
      {
        package: { ecosystem: 'PyPI', name: 'p' },
        ranges: [range('ECOSYSTEM', { introduced: '1.0' }, { fixed: '1.5' }), range('ECOSYSTEM', { introduced: '1.2' })],
      },
    ]);
    assert.deepEqual(affects(open, 'PyPI', 'p', '1.3'), { affected: true });
  });

  it('keeps the record order for events at the same version', () => {
    // introduced and fixed at one version: the later event (fixed) wins at exactly that version.
    const adv = record([{ package: { ecosystem: 'npm', name: 'p' }, ranges: [range('SEMVER', { introduced: '1.0.0' }, { fixed: '1.0.0' })] }]);
    assert.deepEqual(affects(adv, 'npm', 'p', '1.0.0'), { affected: false });
  });

  it('affects nothing once withdrawn', () => {
    const adv = record([{ package: { ecosystem: 'npm', name: 'p' }, ranges: [range('SEMVER', { introduced: '0' })] }], { withdrawn: '2024-02-01T00:00:00Z' });
    assert.deepEqual(affects(adv, 'npm', 'p', '1.0.0'), { affected: false });
  });
});
