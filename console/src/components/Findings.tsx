/**
 * An image's scan findings, basic or enhanced, read as one row shape: vulnerability, severity,
 * package, installed and fixed version, link. Filtered by severity; a page of findings at a time.
 */
import { useMemo, useState } from 'react';
import type { EnhancedFinding, Finding, ScanFindings } from '../ecr-types';
import { SEVERITIES } from '../format';

export interface FindingRow {
  id: string;
  severity: string;
  packageName: string;
  installed: string;
  fixed: string | undefined;
  url: string | undefined;
  description: string | undefined;
}

function attr(f: Finding, key: string): string | undefined {
  return f.attributes?.find((a) => a.key === key)?.value;
}

export function findingRows(res: ScanFindings): FindingRow[] {
  const basic = (res.imageScanFindings?.findings ?? []).map(
    (f): FindingRow => ({
      id: f.name ?? '—',
      severity: f.severity ?? 'UNDEFINED',
      packageName: attr(f, 'package_name') ?? '—',
      installed: attr(f, 'package_version') ?? '—',
      fixed: undefined,
      url: f.uri,
      description: f.description,
    }),
  );
  const enhanced = (res.imageScanFindings?.enhancedFindings ?? []).flatMap((f: EnhancedFinding): FindingRow[] => {
    const d = f.packageVulnerabilityDetails;
    const pkgs = d?.vulnerablePackages?.length ? d.vulnerablePackages : [{}];
    return pkgs.map((p) => ({
      id: d?.vulnerabilityId ?? f.title ?? '—',
      severity: f.severity ?? 'UNDEFINED',
      packageName: p.name ?? '—',
      installed: p.version ?? '—',
      fixed: p.fixedInVersion,
      url: d?.sourceUrl ?? d?.referenceUrls?.[0] ?? f.remediation?.recommendation?.url,
      description: f.description,
    }));
  });
  const rank = (s: string) => {
    const i = (SEVERITIES as readonly string[]).indexOf(s);
    return i < 0 ? SEVERITIES.length : i;
  };
  return [...basic, ...enhanced].sort((a, b) => rank(a.severity) - rank(b.severity) || a.id.localeCompare(b.id));
}

/** Only http(s) links are rendered as links: a finding's URI comes from advisory data. */
function safeUrl(u: string | undefined): string | undefined {
  return u && /^https?:\/\//i.test(u) ? u : undefined;
}

export function FindingsTable({ rows }: { rows: FindingRow[] }) {
  const [severity, setSeverity] = useState('ALL');
  const shown = useMemo(() => (severity === 'ALL' ? rows : rows.filter((r) => r.severity === severity)), [rows, severity]);
  return (
    <>
      <div className="toolbar">
        <label>
          Severity
          <select value={severity} onChange={(e) => setSeverity(e.target.value)}>
            <option value="ALL">All severities</option>
            {SEVERITIES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <span className="muted" role="status">
          {shown.length} of {rows.length} findings
        </span>
      </div>
      <div className="table-wrap">
        <table>
          <caption className="sr-only">Scan findings</caption>
          <thead>
            <tr>
              <th>Vulnerability</th>
              <th>Severity</th>
              <th>Package</th>
              <th>Installed version</th>
              <th>Fixed version</th>
              <th>Description</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((r) => {
              const url = safeUrl(r.url);
              return (
                <tr key={`${r.id}/${r.packageName}/${r.installed}`}>
                  <td>
                    {url ? (
                      <a href={url} target="_blank" rel="noreferrer noopener">
                        {r.id}
                      </a>
                    ) : (
                      r.id
                    )}
                  </td>
                  <td>
                    <span className={`sev sev-${r.severity.toLowerCase()}`}>{r.severity}</span>
                  </td>
                  <td className="mono">{r.packageName}</td>
                  <td className="mono">{r.installed}</td>
                  <td className="mono">{r.fixed ?? '—'}</td>
                  <td>{r.description ?? ''}</td>
                </tr>
              );
            })}
            {shown.length === 0 && (
              <tr>
                <td colSpan={6} className="muted">
                  No findings{severity === 'ALL' ? '' : ` of severity ${severity}`}.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </>
  );
}
