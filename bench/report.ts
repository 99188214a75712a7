/**
 * The figures of a run: recorded per server under a name, folded to one value each (the median
 * for the curl lines, as the issue states them; the mean elsewhere, as before), printed as an
 * aligned table and, at the end, as a markdown table with the goal for each line.
 */
import { writeFileSync } from 'node:fs';
import type { Server } from './servers.js';

export type Figures = Record<string, number[]>;

/** The server name of a baseline build run beside this one (bench/main.ts, bench/mixed-main.ts). */
export const BASELINE = 'berth-base';

export class Results {
  readonly byServer: Record<string, Figures> = { berth: {}, reference: {} };
  /** Figures about the machine or the run, not a server (one column). */
  readonly context: Figures = {};
  /** Parts of the run that failed; the rest still reports. */
  readonly failures: string[] = [];

  /** Where the figures so far are written after each part, so a run stopped midway keeps them. */
  constructor(private readonly savePath?: string) {}

  /** Runs one part of the bench; a failure is reported at the end instead of ending the run. */
  async part(name: string, run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (e) {
      console.error(`${name} FAILED:`, e);
      this.failures.push(`${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (this.savePath)
      writeFileSync(this.savePath, JSON.stringify({ partial: true, results: this.byServer, context: this.context, failures: this.failures }, null, 2));
  }

  record = (server: Server, name: string, value: number): void => {
    ((this.byServer[server.name] ??= {})[name] ??= []).push(value);
  };

  note(name: string, value: number): void {
    (this.context[name] ??= []).push(value);
  }

  /** Whether a baseline build ran beside this one (BENCH_BASELINE_CLI): its figures are under BASELINE. */
  get hasBaseline(): boolean {
    return this.byServer[BASELINE] !== undefined;
  }

  rows(): Array<{ name: string; berth: number; reference: number; ratio: number; base: number; overBase: number }> {
    return Object.keys(this.byServer.berth!).map((name) => {
      const b = fold(name, this.byServer.berth![name]!);
      const r = fold(name, this.byServer.reference![name] ?? []);
      const base = fold(name, this.byServer[BASELINE]?.[name] ?? []);
      return { name, berth: b, reference: r, ratio: b / r, base, overBase: b / base };
    });
  }

  /** Each round's berth/baseline ratio of a figure, in the order recorded (the rounds pair up). */
  pairedWithBaseline(name: string): number[] {
    const b = this.byServer.berth?.[name] ?? [];
    const base = this.byServer[BASELINE]?.[name] ?? [];
    return b.slice(0, base.length).map((x, i) => x / base[i]!);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/**
 * Lines folded to the median: the curl lines (as the issue states them), the memory crowds'
 * (memory-crowds.ts) and skopeo's (several pulls a round: skopeo.ts).
 */
const MEDIAN = /^(curl|RSS |seal slots|streaming window|skopeo )|\(skopeo\)$/;
const fold = (name: string, xs: number[]) => (xs.length === 0 ? NaN : MEDIAN.test(name) ? median(xs) : mean(xs));

const LOWER_IS_BETTER = /CPU|RSS|ms|resident/;

/** The goal for a line, where it names one. */
const GOALS: Array<[RegExp, string]> = [
  [/^curl .* upload MB\/s/, 'ratio ≥ 1.5'],
  [/^curl .* download MB\/s/, 'ratio ≥ 0.8'],
  [/^curl CPU-s per GiB moved/, 'ratio ≤ 1.0'],
  [/^push MB\/s \(HTTP\)/, 'ratio ≥ 1.5'],
  [/^pull MB\/s \(HTTP\)/, 'ratio ≥ 1.2'],
  [/\(skopeo\)/, 'ratio ≥ 1.0'],
  [/^peak RSS MB pushing/, '< 150 MB'],
  [/^mixed: .*p99/, '< 50 ms'],
  [/^mixed: .*req\/s/, 'ratio ≥ 3'],
  [/uploads streaming/, 'flat'],
  [/^RSS KB per added upload, peak/, '≤ 64 KB'],
  [/p99 ms per page/, '< 50 ms'],
  [/peak RSS MB$/, 'flat as counts grow'],
];
const goal = (name: string) => GOALS.find(([re]) => re.test(name))?.[1] ?? '';

const fmt = (x: number) => (Number.isNaN(x) ? '—' : x >= 100 ? x.toFixed(0) : x.toFixed(1));

const ratioText = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '—');

export function printTable(results: Results): void {
  const rows = results.rows();
  const base = results.hasBaseline;
  const w = Math.max(...rows.map((r) => r.name.length));
  const baseHead = base ? `  ${'base'.padStart(10)}  berth/base` : '';
  console.log(`\n${'figure'.padEnd(w)}  ${'berth'.padStart(10)}  ${'reference'.padStart(10)}  berth/ref${baseHead}`);
  for (const r of rows) {
    const better = LOWER_IS_BETTER.test(r.name) ? 'lower is better' : 'higher is better';
    const baseCols = base ? `  ${fmt(r.base).padStart(10)}  ${ratioText(r.overBase).padStart(10)}` : '';
    console.log(
      `${r.name.padEnd(w)}  ${fmt(r.berth).padStart(10)}  ${fmt(r.reference).padStart(10)}  ${ratioText(r.ratio).padStart(9)}${baseCols}  (${better})`,
    );
  }
}

/**
 * This build against the baseline build, each round's pair beside the fold: two builds of the
 * same code differ by more than a few percent on a shared machine, so a change is judged by the
 * spread of the pairs, not by one ratio.
 */
export function printBaseline(results: Results): void {
  if (!results.hasBaseline) return;
  console.log("\n| figure | Berth | baseline | Berth/baseline | each round's pair |");
  console.log('|---|---|---|---|---|');
  for (const r of results.rows()) {
    const pairs = results
      .pairedWithBaseline(r.name)
      .map((x) => x.toFixed(2))
      .join(' ');
    console.log(`| ${r.name} | ${fmt(r.berth)} | ${fmt(r.base)} | ${ratioText(r.overBase)} | ${pairs} |`);
  }
}

export function printMarkdown(results: Results, title: string): void {
  console.log(`\n${title}\n`);
  console.log('| figure | Berth | reference | Berth/reference | goal |');
  console.log('|---|---|---|---|---|');
  for (const r of results.rows()) {
    const ratio = Number.isFinite(r.ratio) ? r.ratio.toFixed(2) : '—';
    console.log(`| ${r.name} | ${fmt(r.berth)} | ${fmt(r.reference)} | ${ratio} | ${goal(r.name)} |`);
  }
  for (const [name, xs] of Object.entries(results.context)) console.log(`| ${name} | ${fmt(median(xs))} | | | context |`);
  for (const f of results.failures) console.log(`\nFAILED (no figures): ${f}`);
}
