/**
 * `berth lifecycle run [--repository NAME] [--account-id ID] [--dry-run] [--json]`: evaluates
 * lifecycle policies now, against the data directory (safe beside a running server), and
 * prints what was (or, with --dry-run, would be) expired.
 */
import { ConfigError } from '../config/load.js';
import type { LifecycleRunReport } from '../lifecycle/engine.js';
import { registryKey } from '../core/registry-key.js';
import { accountOption, jsonOption, logLevelOption, storeOptions, withAccountAndRegion, type Command, type CommandInput } from './command.js';

export const lifecycleCommands: Command[] = [
  {
    words: ['lifecycle', 'run'],
    summary: 'evaluate lifecycle policies now (every repository with one, or NAME)',
    details: 'Safe beside a running server. Exits 1 if any image could not be expired.',
    options: {
      repository: { type: 'string', value: 'NAME', help: 'only this repository' },
      ...accountOption,
      'dry-run': { type: 'boolean', help: 'change nothing; report what would be expired' },
      ...jsonOption,
      ...logLevelOption('warn'),
      ...storeOptions,
    },
    example: 'berth lifecycle run --repository team/web --dry-run',
    dataDir: 'registry',
    // The report is on stdout; the log would be mixed into it.
    flagDefaults: { logLevel: 'warn' },
    run: lifecycle,
  },
];

async function lifecycle({ values, config }: CommandInput): Promise<number> {
  const accountId = (values['account-id'] as string | undefined) ?? config.defaultAccountId;
  if (!/^\d{12}$/.test(accountId)) throw new ConfigError('--account-id must be 12 digits');
  const key = registryKey(accountId, config.region);
  const repository = values.repository as string | undefined;
  const [{ openRegistry }, { LifecycleEngine }] = await Promise.all([import('../app/app.js'), import('../lifecycle/engine.js')]);
  const registry = await openRegistry(config);
  try {
    const engine = new LifecycleEngine(registry);
    const dryRun = values['dry-run'] === true;
    const reports =
      repository !== undefined ? [await engine.run({ registryKey: key, name: repository }, { dryRun })] : await engine.runAll({ dryRun, registryKey: key });
    process.stdout.write(values.json ? JSON.stringify(reports.map(withAccountAndRegion), null, 2) + '\n' : summary(reports));
    return reports.some((r) => r.failures.length > 0) ? 1 : 0;
  } finally {
    await registry.close();
  }
}

function summary(reports: LifecycleRunReport[]): string {
  if (reports.length === 0) return 'no repository has a lifecycle policy\n';
  const lines: string[] = [];
  for (const r of reports) {
    const verb = r.dryRun ? 'would expire' : 'expired';
    lines.push(
      `${r.repository}: ${r.evaluated} images evaluated, ${verb} ${r.expired.length}` +
        (r.referrersExpired ? ` (+${r.referrersExpired} referrers)` : '') +
        (r.transitioned.length > 0 ? `, ${r.dryRun ? 'would archive' : 'archived'} ${r.transitioned.length}` : ''),
    );
    for (const a of r.expired) lines.push(`  ${a.digest}  rule ${a.rulePriority}  pushed ${a.pushedAt.toISOString()}  ${a.tags.join(',') || '<untagged>'}`);
    for (const a of r.transitioned) lines.push(`  ${a.digest}  rule ${a.rulePriority}  archive  ${a.tags.join(',') || '<untagged>'}`);
    for (const k of r.kept) lines.push(`  kept ${k.digest}: ${k.reason}`);
    for (const f of r.failures) lines.push(`  failed ${f.digest}: ${f.reason}`);
  }
  return lines.join('\n') + '\n';
}
