/**
 * CVSS vectors: parsing for v2, v3.0, v3.1 and v4.0, base scores for v2 and v3.x, and the
 * qualitative severity scale.
 *
 * v3.x base score is the specification's formula (CVSS v3.1 specification, section 7.1)
 * with Roundup as defined in its Appendix A (integer arithmetic, so 4.000000001 from float
 * error is 4.0, not 4.1). v3.0's base equation is the same; we apply the v3.1 Roundup to it
 * too, since the v3.0 definition ("smallest number ... equal to or higher") is what the v3.1
 * one computes without floating-point artifacts.
 *
 * v4.0 vectors are parsed and validated only. Scoring v4 needs FIRST's macro-vector lookup
 * table and interpolation (spec section 8); until that is ported, a v4 record's severity
 * comes from a rating or score given elsewhere (`severityFromScore`).
 */

export type CvssVersion = '2.0' | '3.0' | '3.1' | '4.0';
export type CvssRating = 'NONE' | 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';

export interface CvssVector {
  version: CvssVersion;
  /** The vector as given. */
  vector: string;
  metrics: ReadonlyMap<string, string>;
}

const MAX_VECTOR_LENGTH = 512;

type MetricTable = Record<string, readonly string[]>;

const V3_BASE: MetricTable = {
  AV: ['N', 'A', 'L', 'P'],
  AC: ['L', 'H'],
  PR: ['N', 'L', 'H'],
  UI: ['N', 'R'],
  S: ['U', 'C'],
  C: ['H', 'L', 'N'],
  I: ['H', 'L', 'N'],
  A: ['H', 'L', 'N'],
};
const V3_OTHER: MetricTable = {
  E: ['X', 'H', 'F', 'P', 'U'],
  RL: ['X', 'U', 'W', 'T', 'O'],
  RC: ['X', 'C', 'R', 'U'],
  CR: ['X', 'H', 'M', 'L'],
  IR: ['X', 'H', 'M', 'L'],
  AR: ['X', 'H', 'M', 'L'],
  MAV: ['X', 'N', 'A', 'L', 'P'],
  MAC: ['X', 'L', 'H'],
  MPR: ['X', 'N', 'L', 'H'],
  MUI: ['X', 'N', 'R'],
  MS: ['X', 'U', 'C'],
  MC: ['X', 'H', 'L', 'N'],
  MI: ['X', 'H', 'L', 'N'],
  MA: ['X', 'H', 'L', 'N'],
};
const V2_BASE: MetricTable = {
  AV: ['L', 'A', 'N'],
  AC: ['H', 'M', 'L'],
  Au: ['M', 'S', 'N'],
  C: ['N', 'P', 'C'],
  I: ['N', 'P', 'C'],
  A: ['N', 'P', 'C'],
};
const V2_OTHER: MetricTable = {
  E: ['U', 'POC', 'F', 'H', 'ND'],
  RL: ['OF', 'TF', 'W', 'U', 'ND'],
  RC: ['UC', 'UR', 'C', 'ND'],
  CDP: ['N', 'L', 'LM', 'MH', 'H', 'ND'],
  TD: ['N', 'L', 'M', 'H', 'ND'],
  CR: ['L', 'M', 'H', 'ND'],
  IR: ['L', 'M', 'H', 'ND'],
  AR: ['L', 'M', 'H', 'ND'],
};
const V4_BASE: MetricTable = {
  AV: ['N', 'A', 'L', 'P'],
  AC: ['L', 'H'],
  AT: ['N', 'P'],
  PR: ['N', 'L', 'H'],
  UI: ['N', 'P', 'A'],
  VC: ['H', 'L', 'N'],
  VI: ['H', 'L', 'N'],
  VA: ['H', 'L', 'N'],
  SC: ['H', 'L', 'N'],
  SI: ['H', 'L', 'N'],
  SA: ['H', 'L', 'N'],
};
const V4_OTHER: MetricTable = {
  E: ['X', 'A', 'P', 'U'],
  CR: ['X', 'H', 'M', 'L'],
  IR: ['X', 'H', 'M', 'L'],
  AR: ['X', 'H', 'M', 'L'],
  MAV: ['X', 'N', 'A', 'L', 'P'],
  MAC: ['X', 'L', 'H'],
  MAT: ['X', 'N', 'P'],
  MPR: ['X', 'N', 'L', 'H'],
  MUI: ['X', 'N', 'P', 'A'],
  MVC: ['X', 'H', 'L', 'N'],
  MVI: ['X', 'H', 'L', 'N'],
  MVA: ['X', 'H', 'L', 'N'],
  MSC: ['X', 'H', 'L', 'N'],
  MSI: ['X', 'S', 'H', 'L', 'N'],
  MSA: ['X', 'S', 'H', 'L', 'N'],
  S: ['X', 'N', 'P'],
  AU: ['X', 'N', 'Y'],
  R: ['X', 'A', 'U', 'I'],
  V: ['X', 'D', 'C'],
  RE: ['X', 'L', 'M', 'H'],
  U: ['X', 'Clear', 'Green', 'Amber', 'Red'],
};

function parseMetrics(body: string, base: MetricTable, other: MetricTable): Map<string, string> | undefined {
  const metrics = new Map<string, string>();
  for (const part of body.split('/')) {
    const colon = part.indexOf(':');
    if (colon <= 0) return undefined;
    const key = part.slice(0, colon);
    const value = part.slice(colon + 1);
    const allowed = Object.hasOwn(base, key) ? base[key] : Object.hasOwn(other, key) ? other[key] : undefined;
    if (!allowed?.includes(value) || metrics.has(key)) return undefined;
    metrics.set(key, value);
  }
  for (const key of Object.keys(base)) if (!metrics.has(key)) return undefined;
  return metrics;
}

/** Parses a CVSS vector of any supported version; `undefined` if it is not well formed. */
export function parseCvss(vector: string): CvssVector | undefined {
  if (vector.length > MAX_VECTOR_LENGTH) return undefined;
  const m = /^CVSS:(3\.0|3\.1|4\.0)\/(.+)$/.exec(vector);
  if (m) {
    const version = m[1] as CvssVersion;
    const metrics = version === '4.0' ? parseMetrics(m[2]!, V4_BASE, V4_OTHER) : parseMetrics(m[2]!, V3_BASE, V3_OTHER);
    return metrics && { version, vector, metrics };
  }
  // v2 vectors have no prefix; NVD sometimes wraps them in parentheses.
  const v2 = vector.startsWith('(') && vector.endsWith(')') ? vector.slice(1, -1) : vector;
  const metrics = parseMetrics(v2, V2_BASE, V2_OTHER);
  return metrics && { version: '2.0', vector, metrics };
}

/** Roundup as defined in CVSS v3.1 Appendix A. */
export function roundup(input: number): number {
  const intInput = Math.round(input * 100000);
  if (intInput % 10000 === 0) return intInput / 100000;
  return (Math.floor(intInput / 10000) + 1) / 10;
}

const W3 = {
  AV: { N: 0.85, A: 0.62, L: 0.55, P: 0.2 },
  AC: { L: 0.77, H: 0.44 },
  PR_U: { N: 0.85, L: 0.62, H: 0.27 },
  PR_C: { N: 0.85, L: 0.68, H: 0.5 },
  UI: { N: 0.85, R: 0.62 },
  CIA: { H: 0.56, L: 0.22, N: 0 },
} as const;

function w<T extends Record<string, number>>(table: T, metrics: ReadonlyMap<string, string>, key: string): number {
  return table[metrics.get(key) as keyof T] as number;
}

function v3BaseScore(m: ReadonlyMap<string, string>): number {
  const changed = m.get('S') === 'C';
  const iss = 1 - (1 - w(W3.CIA, m, 'C')) * (1 - w(W3.CIA, m, 'I')) * (1 - w(W3.CIA, m, 'A'));
  const impact = changed ? 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 : 6.42 * iss;
  const exploitability = 8.22 * w(W3.AV, m, 'AV') * w(W3.AC, m, 'AC') * w(changed ? W3.PR_C : W3.PR_U, m, 'PR') * w(W3.UI, m, 'UI');
  if (impact <= 0) return 0;
  return changed ? roundup(Math.min(1.08 * (impact + exploitability), 10)) : roundup(Math.min(impact + exploitability, 10));
}

const W2 = {
  AV: { L: 0.395, A: 0.646, N: 1.0 },
  AC: { H: 0.35, M: 0.61, L: 0.71 },
  Au: { M: 0.45, S: 0.56, N: 0.704 },
  CIA: { N: 0, P: 0.275, C: 0.66 },
} as const;

function v2BaseScore(m: ReadonlyMap<string, string>): number {
  const impact = 10.41 * (1 - (1 - w(W2.CIA, m, 'C')) * (1 - w(W2.CIA, m, 'I')) * (1 - w(W2.CIA, m, 'A')));
  const exploitability = 20 * w(W2.AV, m, 'AV') * w(W2.AC, m, 'AC') * w(W2.Au, m, 'Au');
  const f = impact === 0 ? 0 : 1.176;
  const raw = (0.6 * impact + 0.4 * exploitability - 1.5) * f;
  // round_to_1_decimal; the small bias keeps x.x5 computed as x.x4999... from rounding down.
  return Math.max(0, Math.round(raw * 10 + 1e-9) / 10);
}

/** The base score, or `undefined` for v4.0 (not scored here) and malformed vectors. */
export function cvssBaseScore(v: CvssVector): number | undefined {
  if (v.version === '3.0' || v.version === '3.1') return v3BaseScore(v.metrics);
  if (v.version === '2.0') return v2BaseScore(v.metrics);
  return undefined;
}

/** The v3.x / v4.0 qualitative severity rating scale (v3.1 spec, section 5). */
export function severityFromScore(score: number): CvssRating {
  if (score === 0) return 'NONE';
  if (score < 4) return 'LOW';
  if (score < 7) return 'MEDIUM';
  if (score < 9) return 'HIGH';
  return 'CRITICAL';
}

/** NVD's v2 ratings: v2 has no "none" or "critical". */
export function severityFromV2Score(score: number): Exclude<CvssRating, 'NONE' | 'CRITICAL'> {
  if (score < 4) return 'LOW';
  if (score < 7) return 'MEDIUM';
  return 'HIGH';
}
