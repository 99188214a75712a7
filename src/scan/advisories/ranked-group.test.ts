import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdvisoryIndex } from './advisory-index.js';
import { type OsvAdvisory, affects, validateOsv } from './osv.js';

// The index evaluates through RankedGroup; `affects` follows the schema's pseudocode entry by
// entry. On random records both must give the same verdict and the same fix, for every
// ordering and every event kind (introduced "0", fixed, last_affected, limit, versions).

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const POOLS: Record<string, string[]> = {
  'Debian:12': ['0.9-1', '1.0~rc1-1', '1.0-1', '1.0-1+deb12u1', '1.0-2', '1:0.5-1', '1.0.1-1', '2.0-1', '1.00-1'],
  'Alpine:v3.19': ['1.0_rc1-r0', '1.0-r0', '1.0-r1', '1.0_p1-r0', '1.0.1-r0', '1.1-r0', '2.0-r0', '1.0a-r0'],
  'Red Hat:rhel:9': ['1.0-1.el9', '1.0-2.el9', '1:0.9-1.el9', '1.0~rc1-1.el9', '1.0^git1-1.el9', '1.1-1.el9', '2.0-1'],
  npm: ['0.9.0', '1.0.0-alpha', '1.0.0-rc.1', '1.0.0', '1.0.1', '1.1.0', '2.0.0', '2.0.0+build'],
  PyPI: ['0.9', '1.0.dev0', '1.0a1', '1.0rc1', '1.0', '1.0.post1', '1.0.1', '1.1', '2.0', '2!0.1', 'not-pep440'],
  Maven: ['1.0-alpha-1', '1.0-SNAPSHOT', '1.0', '1.0-sp1', '1.0.1', '1.1', '2.0', '1.0-ga'],
  RubyGems: ['0.9', '1.0.a', '1.0.rc1', '1.0', '1.0.1', '1.1', '2.0'],
  Packagist: ['0.9', '1.0-dev', '1.0-beta1', '1.0-RC1', '1.0', '1.0-pl1', '1.0.1', '2.0'],
};

function randomAdvisory(rand: () => number, id: number, ecosystem: string, name: string): OsvAdvisory {
  const pool = POOLS[ecosystem]!;
  const pick = () => pool[Math.floor(rand() * pool.length)]!;
  const ranges = [];
  for (let r = 0, nr = 1 + Math.floor(rand() * 2); r < nr; r++) {
    const events: object[] = [{ introduced: rand() < 0.4 ? '0' : pick() }];
    const closing = rand() < 0.3 ? 'last_affected' : 'fixed';
    for (let e = 0, ne = Math.floor(rand() * 4); e < ne; e++) {
      events.push(rand() < 0.4 ? { introduced: pick() } : { [closing]: pick() });
    }
    if (rand() < 0.2) events.push({ limit: rand() < 0.3 ? '*' : pick() });
    // Shuffle: the record's order must not matter beyond ties.
    events.sort(() => rand() - 0.5);
    events.sort(
      (a, b) =>
        Number('introduced' in b && (b as { introduced: string }).introduced === '0') -
        Number('introduced' in a && (a as { introduced: string }).introduced === '0'),
    );
    if (!events.some((e) => 'introduced' in e)) events.unshift({ introduced: '0' });
    ranges.push({ type: rand() < 0.2 && ecosystem === 'npm' ? 'SEMVER' : 'ECOSYSTEM', events });
  }
  const versions = rand() < 0.3 ? [pick()] : [];
  const r = validateOsv({ id: `R-${id}`, modified: '2024-01-01T00:00:00Z', affected: [{ package: { ecosystem, name }, ranges, versions }] });
  assert.ok(r.ok, r.ok ? '' : r.error);
  return r.advisory;
}

describe('RankedGroup', () => {
  it('agrees with the reference evaluation on random records for every ordering', () => {
    const rand = rng(7);
    for (const ecosystem of Object.keys(POOLS)) {
      const idx = new AdvisoryIndex();
      const advisories: OsvAdvisory[] = [];
      for (let i = 0; i < 60; i++) {
        const a = randomAdvisory(rand, i, ecosystem, `pkg-${i % 3}`);
        advisories.push(a);
        idx.add(a);
      }
      let compared = 0;
      for (const version of POOLS[ecosystem]!) {
        for (const name of ['pkg-0', 'pkg-1', 'pkg-2']) {
          const findings = new Map(idx.match([{ ecosystem, name, version }]).map((f) => [f.advisoryId, f.fixedIn]));
          for (const a of advisories) {
            const want = affects(a, ecosystem, name, version);
            assert.equal(findings.has(a.id), want.affected, `${ecosystem} ${a.id} ${name}@${version}: ${JSON.stringify(a.affected)}`);
            if (want.affected) assert.equal(findings.get(a.id), want.fixedIn, `${ecosystem} ${a.id} ${name}@${version} fix`);
            compared++;
          }
        }
      }
      assert.ok(compared >= 60 * 3 * 7, `${ecosystem}: ${compared}`);
    }
  });

  it('answers the same after advisories are removed and re-added', () => {
    const rand = rng(11);
    const idx = new AdvisoryIndex();
    const advs = Array.from({ length: 30 }, (_, i) => randomAdvisory(rand, i, 'Debian:12', 'pkg'));
    for (const a of advs) idx.add(a);
    const inventory = POOLS['Debian:12']!.map((version) => ({ ecosystem: 'Debian:12', name: 'pkg', version }));
    const before = idx.match(inventory);
    for (const a of advs.slice(0, 10)) idx.remove(a.id);
    assert.ok(idx.match(inventory).length <= before.length);
    for (const a of advs.slice(0, 10)) idx.add(a);
    const sortKey = (f: { advisoryId: string; version: string }) => `${f.advisoryId} ${f.version}`;
    assert.deepEqual(idx.match(inventory).map(sortKey).sort(), before.map(sortKey).sort());
  });
});
