/**
 * An advisory's severity in ECR's vocabulary (INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL,
 * UNDEFINED), and the CVSS vector a finding reports.
 *
 * Sources, per affected entry: its own `severity` list if present (the schema forbids the
 * top-level one then), else the record's, and failing both a `database_specific.cvss`
 * object `{ vectorString, score }` as GHSA writes it. CVSS vectors are scored (v3.x
 * preferred over v4, v4 over v2). A v4 vector is not scored here: it takes the `score`
 * given beside it in `database_specific.cvss`, when there is one. Rating words come from an
 * `Ubuntu` severity entry, `database_specific` (`severity`, as GHSA writes "MODERATE";
 * `urgency`, as Debian's tracker writes "low*") and `ecosystem_specific`, of the entry,
 * then of the record.
 *
 * Precedence: for distribution packages the distribution's own rating wins, as ECR's basic
 * scanning reports the distro's severity; it accounts for how the package is built and
 * shipped. For language packages the CVSS base score wins and the database word is the
 * fallback.
 */

import { cvssBaseScore, parseCvss, severityFromScore, severityFromV2Score, type CvssVersion } from './cvss.js';
import { isDistribution } from './ecosystems.js';

export type EcrSeverity = 'INFORMATIONAL' | 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL' | 'UNDEFINED';

export interface FindingCvss {
  vector: string;
  version: CvssVersion;
  /** The computed base score; absent for v4 vectors, which are not scored. */
  score?: number;
}

export interface SeverityResult {
  severity: EcrSeverity;
  cvss?: FindingCvss;
}

interface SeverityEntry {
  type: string;
  score: string;
}

interface SeveritySources {
  severity?: readonly SeverityEntry[] | undefined;
  database_specific?: Record<string, unknown> | undefined;
  ecosystem_specific?: Record<string, unknown> | undefined;
}

const WORDS: Record<string, EcrSeverity> = {
  critical: 'CRITICAL',
  high: 'HIGH',
  important: 'HIGH',
  moderate: 'MEDIUM',
  medium: 'MEDIUM',
  low: 'LOW',
  negligible: 'INFORMATIONAL',
  unimportant: 'INFORMATIONAL',
  informational: 'INFORMATIONAL',
  info: 'INFORMATIONAL',
  none: 'INFORMATIONAL',
};

/** Maps a rating word to ECR's scale; words that carry no rating ("not yet assigned") give undefined. */
export function severityFromWord(word: string): EcrSeverity | undefined {
  // Debian marks uncertain urgencies with asterisks ("low**"); casing varies by database.
  return WORDS[word.toLowerCase().replace(/[^a-z]/g, '')];
}

const RANK: Record<CvssVersion, number> = { '3.1': 4, '3.0': 3, '4.0': 2, '2.0': 1 };

function bestCvss(entries: readonly SeverityEntry[]): FindingCvss | undefined {
  let best: FindingCvss | undefined;
  for (const e of entries) {
    if (!e.type.startsWith('CVSS_')) continue;
    const v = parseCvss(e.score);
    if (!v || (best && RANK[best.version] >= RANK[v.version])) continue;
    const score = cvssBaseScore(v);
    best = score === undefined ? { vector: v.vector, version: v.version } : { vector: v.vector, version: v.version, score };
  }
  return best;
}

/** GHSA's `database_specific.cvss`: `{ score: 9.1, vectorString: "CVSS:3.0/..." }`. */
function givenCvss(sources: readonly (SeveritySources | undefined)[]): { vector?: string; score?: number } | undefined {
  for (const s of sources) {
    const c = s?.database_specific?.cvss;
    if (typeof c !== 'object' || c === null) continue;
    const { vectorString, score } = c as Record<string, unknown>;
    const out: { vector?: string; score?: number } = {};
    if (typeof vectorString === 'string') out.vector = vectorString;
    if (typeof score === 'number' && score >= 0 && score <= 10) out.score = score;
    if (out.vector !== undefined || out.score !== undefined) return out;
  }
  return undefined;
}

function cvssSeverity(c: FindingCvss): EcrSeverity | undefined {
  if (c.score === undefined) return undefined;
  const rating = c.version === '2.0' ? severityFromV2Score(c.score) : severityFromScore(c.score);
  return rating === 'NONE' ? 'INFORMATIONAL' : rating;
}

function wordFrom(sources: readonly (SeveritySources | undefined)[]): EcrSeverity | undefined {
  for (const s of sources) {
    if (!s) continue;
    for (const e of s.severity ?? []) {
      if (e.type === 'Ubuntu') {
        const w = severityFromWord(e.score);
        if (w) return w;
      }
    }
    for (const bag of [s.database_specific, s.ecosystem_specific]) {
      for (const key of ['severity', 'urgency']) {
        const value = bag?.[key];
        if (typeof value !== 'string') continue;
        const w = severityFromWord(value);
        if (w) return w;
      }
    }
  }
  return undefined;
}

/** The severity of `advisory` for one of its affected entries, whose ecosystem base is given. */
export function advisorySeverity(advisory: SeveritySources, entry: SeveritySources | undefined, ecosystemBase: string): SeverityResult {
  const listed = entry?.severity && entry.severity.length > 0 ? entry.severity : (advisory.severity ?? []);
  const given = givenCvss([entry, advisory]);
  let cvss = bestCvss(listed.length > 0 || !given?.vector ? listed : [{ type: 'CVSS_GIVEN', score: given.vector }]);
  if (cvss && cvss.score === undefined && given?.score !== undefined && (given.vector === undefined || given.vector === cvss.vector))
    cvss = { ...cvss, score: given.score };
  const fromCvss = cvss ? cvssSeverity(cvss) : undefined;
  const fromWord = wordFrom([entry, advisory]);
  const severity = (isDistribution(ecosystemBase) ? (fromWord ?? fromCvss) : (fromCvss ?? fromWord)) ?? 'UNDEFINED';
  return cvss ? { severity, cvss } : { severity };
}
