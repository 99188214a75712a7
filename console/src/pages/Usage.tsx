/** Storage per repository and over time, from the daily usage rows the server keeps (GET /console/api/usage). */
import { useState } from 'react';
import { request } from '../api';
import { ErrorMessage, Loading } from '../components/common';
import { bytes } from '../format';
import { useLoad } from '../hooks';
import { Link } from '../router';

interface Day {
  date: string;
  storageBytes?: number;
  bytesIn?: number;
  bytesOut?: number;
  pulls?: number;
}
interface Usage {
  from: string;
  to: string;
  repositories: { repositoryName: string; days: Day[] }[];
}

/** The last day that has a storage sample. */
function latestStorage(days: Day[]): number | undefined {
  for (let i = days.length - 1; i >= 0; i--) if (days[i]!.storageBytes !== undefined) return days[i]!.storageBytes;
  return undefined;
}

const sum = (days: Day[], k: 'bytesIn' | 'bytesOut' | 'pulls') => days.reduce((n, d) => n + (d[k] ?? 0), 0);

/** Total storage per day across repositories (days without a sample carry none). */
export function dailyTotals(u: Usage): { date: string; bytes: number }[] {
  const by = new Map<string, number>();
  for (const r of u.repositories) for (const d of r.days) if (d.storageBytes !== undefined) by.set(d.date, (by.get(d.date) ?? 0) + d.storageBytes);
  return [...by.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([date, b]) => ({ date, bytes: b }));
}

function Chart({ points }: { points: { date: string; bytes: number }[] }) {
  if (points.length === 0) return <p className="muted">No storage samples in this period yet (they are taken hourly).</p>;
  const max = Math.max(...points.map((p) => p.bytes), 1);
  const w = 640;
  const h = 160;
  const bw = w / points.length;
  return (
    <figure>
      <svg viewBox={`0 0 ${w} ${h + 20}`} role="img" aria-labelledby="chart-title" className="chart">
        <title id="chart-title">
          Storage per day, {points[0]!.date} to {points[points.length - 1]!.date}, at most {bytes(max)}
        </title>
        {points.map((p, i) => {
          const bh = Math.max(1, (p.bytes / max) * h);
          return (
            <rect key={p.date} x={i * bw + 1} y={h - bh} width={Math.max(1, bw - 2)} height={bh} className="bar">
              <title>
                {p.date}: {bytes(p.bytes)}
              </title>
            </rect>
          );
        })}
      </svg>
      <figcaption className="muted small">Total storage per day (average of the day's samples).</figcaption>
    </figure>
  );
}

export function UsagePage() {
  const [days, setDays] = useState(30);
  const usage = useLoad(() => request<Usage>('GET', `/console/api/usage?days=${days}`), String(days));
  const repos = [...(usage.data?.repositories ?? [])].sort((a, b) => (latestStorage(b.days) ?? 0) - (latestStorage(a.days) ?? 0));
  return (
    <>
      <div className="page-head">
        <h1>Usage</h1>
        <label>
          Period
          <select value={days} onChange={(e) => setDays(Number(e.target.value))}>
            <option value={7}>7 days</option>
            <option value={30}>30 days</option>
            <option value={90}>90 days</option>
            <option value={366}>a year</option>
          </select>
        </label>
      </div>
      <ErrorMessage error={usage.error} />
      {usage.loading && !usage.data ? (
        <Loading what="usage" />
      ) : usage.data ? (
        <>
          <p className="muted">
            {usage.data.from} to {usage.data.to} (UTC days)
          </p>
          <Chart points={dailyTotals(usage.data)} />
          <div className="table-wrap">
            <table>
              <caption className="sr-only">Usage per repository</caption>
              <thead>
                <tr>
                  <th>Repository</th>
                  <th>Storage (latest)</th>
                  <th>Pulls</th>
                  <th>Transfer out</th>
                  <th>Transfer in</th>
                </tr>
              </thead>
              <tbody>
                {repos.map((r) => (
                  <tr key={r.repositoryName}>
                    <td>
                      <Link to={{ page: 'repository', name: r.repositoryName, tab: 'images' }}>{r.repositoryName}</Link>
                    </td>
                    <td>{bytes(latestStorage(r.days))}</td>
                    <td>{sum(r.days, 'pulls')}</td>
                    <td>{bytes(sum(r.days, 'bytesOut'))}</td>
                    <td>{bytes(sum(r.days, 'bytesIn'))}</td>
                  </tr>
                ))}
                {repos.length === 0 && (
                  <tr>
                    <td colSpan={5} className="muted">
                      No usage recorded in this period.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
        </>
      ) : null}
    </>
  );
}
