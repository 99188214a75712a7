import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdvisoryIndex, type InventoryPackage } from './advisory-index.js';
import { type OsvAdvisory, parseOsv } from './osv.js';

function osv(fields: Record<string, unknown>): OsvAdvisory {
  const r = parseOsv(JSON.stringify({ modified: '2024-01-01T00:00:00Z', ...fields }));
  assert.ok(r.ok, r.ok ? '' : r.error);
  return r.advisory;
}

const fixedBelow = (ecosystem: string, name: string, fixed: string) => ({
  package: { ecosystem, name },
  ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }],
});

const DSA = osv({
  id: 'DSA-5532-1',
  aliases: ['CVE-2023-5363'],
  summary: 'openssl - security update',
  affected: [fixedBelow('Debian:12', 'openssl', '3.0.11-1~deb12u2'), fixedBelow('Debian:11', 'openssl', '1.1.1w-0+deb11u1')],
  references: [{ type: 'WEB', url: 'https://www.debian.org/security/2023/dsa-5532' }],
  database_specific: { urgency: 'high' },
});

const GHSA = osv({
  id: 'GHSA-xxxx-yyyy-zzzz',
  aliases: ['CVE-2024-0001'],
  details: 'Prototype pollution in lodash.\nMore text.',
  severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
  affected: [{ package: { ecosystem: 'npm', name: 'lodash' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '4.17.21' }] }] }],
});

const PYSEC = osv({
  id: 'PYSEC-2024-1',
  summary: 'Django SQL injection',
  affected: [fixedBelow('PyPI', 'Django', '4.2.8')],
  database_specific: { severity: 'MODERATE' },
});

const IMAGE: InventoryPackage[] = [
  { ecosystem: 'Debian:12', name: 'libssl3', version: '3.0.11-1~deb12u1', sourceName: 'openssl' },
  { ecosystem: 'Debian:12', name: 'openssl', version: '3.0.11-1~deb12u1' },
  { ecosystem: 'Debian:12', name: 'zlib1g', version: '1:1.2.13.dfsg-1', sourceName: 'zlib' },
  { ecosystem: 'npm', name: 'lodash', version: '4.17.20' },
  { ecosystem: 'PyPI', name: 'django', version: '4.2.7' },
  { ecosystem: 'PyPI', name: 'requests', version: '2.31.0' },
];

function index(...advisories: OsvAdvisory[]): AdvisoryIndex {
  const idx = new AdvisoryIndex();
  for (const a of advisories) assert.equal(idx.add(a), true, a.id);
  return idx;
}

describe('AdvisoryIndex', () => {
  it('finds every affected package of an image with ECR-shaped findings', () => {
    const findings = index(DSA, GHSA, PYSEC).match(IMAGE);
    assert.deepEqual(
      findings.map((f) => [f.package, f.advisoryId]),
      [
        ['libssl3', 'DSA-5532-1'],
        ['openssl', 'DSA-5532-1'],
        ['lodash', 'GHSA-xxxx-yyyy-zzzz'],
        ['django', 'PYSEC-2024-1'],
      ],
    );
    assert.deepEqual(findings[0], {
      advisoryId: 'DSA-5532-1',
      aliases: ['CVE-2023-5363'],
      ecosystem: 'Debian:12',
      package: 'libssl3',
      version: '3.0.11-1~deb12u1',
      fixedIn: '3.0.11-1~deb12u2',
      severity: 'HIGH',
      summary: 'openssl - security update',
      uri: 'https://www.debian.org/security/2023/dsa-5532',
    });
    assert.deepEqual(findings[2], {
      advisoryId: 'GHSA-xxxx-yyyy-zzzz',
      aliases: ['CVE-2024-0001'],
      ecosystem: 'npm',
      package: 'lodash',
      version: '4.17.20',
      fixedIn: '4.17.21',
      severity: 'CRITICAL',
      cvss: { vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', version: '3.1', score: 9.8 },
      summary: 'Prototype pollution in lodash.',
      uri: 'https://osv.dev/vulnerability/GHSA-xxxx-yyyy-zzzz',
    });
    assert.equal(findings[3]!.severity, 'MEDIUM');
  });

  it("matches an OS package only against its own release's advisories", () => {
    const idx = index(DSA);
    const pkg = (ecosystem: string, version: string) => [{ ecosystem, name: 'openssl', version }];
    assert.equal(idx.match(pkg('Debian:11', '1.1.1n-0+deb11u5'))[0]?.fixedIn, '1.1.1w-0+deb11u1');
    assert.deepEqual(idx.match(pkg('Debian:10', '1.1.1n-0+deb10u6')), []);
    assert.deepEqual(idx.match(pkg('Debian', '1.1.1n-0+deb11u5')), []);
    assert.deepEqual(idx.match(pkg('Ubuntu:22.04', '3.0.2-0ubuntu1')), []);
  });

  it('reports an advisory once per package when binary and source names both match', () => {
    const both = osv({ id: 'X-1', affected: [fixedBelow('Debian:12', 'libssl3', '9'), fixedBelow('Debian:12', 'openssl', '9')] });
    const findings = index(both).match([IMAGE[0]!]);
    assert.equal(findings.length, 1);
    assert.equal(findings[0]!.fixedIn, '9');
  });

  it('uses the source version when the binary was rebuilt with another', () => {
    const idx = index(osv({ id: 'X-2', affected: [fixedBelow('Debian:12', 'glibc', '2.36-9+deb12u4')] }));
    const binNmu = { ecosystem: 'Debian:12', name: 'libc6', version: '2.36-9+deb12u4+b1', sourceName: 'glibc', sourceVersion: '2.36-9+deb12u3' };
    assert.equal(idx.match([binNmu]).length, 1);
  });

  it('replaces an advisory with a newer record and keeps a newer one over an older', () => {
    const idx = index(GHSA);
    const newer = osv({
      ...GHSA,
      modified: '2024-06-01T00:00:00Z',
      affected: [{ ...GHSA.affected![0], ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '4.17.19' }] }] }],
    });
    assert.equal(idx.add(newer), true);
    assert.deepEqual(idx.match([IMAGE[3]!]), []);
    assert.equal(idx.add(GHSA), false);
    assert.deepEqual(idx.match([IMAGE[3]!]), []);
    assert.equal(idx.size, 1);
  });

  it('drops an advisory on remove and on a withdrawn update', () => {
    const idx = index(DSA, GHSA);
    assert.equal(idx.remove('DSA-5532-1'), true);
    assert.equal(idx.remove('DSA-5532-1'), false);
    assert.deepEqual(
      idx.match(IMAGE).map((f) => f.advisoryId),
      ['GHSA-xxxx-yyyy-zzzz'],
    );
    assert.equal(idx.add(osv({ ...GHSA, modified: '2025-01-01T00:00:00Z', withdrawn: '2025-01-01T00:00:00Z' })), false);
    assert.deepEqual(idx.match(IMAGE), []);
    assert.equal(idx.size, 0);
  });

  it('gives the same answers with a tiny parse cache as with the default', () => {
    const small = new AdvisoryIndex({ parseCacheSize: 1 });
    for (const a of [DSA, GHSA, PYSEC]) small.add(a);
    assert.deepEqual(small.match(IMAGE), index(DSA, GHSA, PYSEC).match(IMAGE));
    assert.deepEqual(small.match(IMAGE), small.match(IMAGE));
  });
});
