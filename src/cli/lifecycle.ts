/**
 * `berth lifecycle run [--repository NAME] [--account-id ID] [--dry-run] [--json]`: evaluates
 * lifecycle policies now, against the data directory (safe beside a running server), and
 * prints what was (or, with --dry-run, would be) expired.
 */
import { parseArgs } from 'node:util';
import { openRegistry } from '../app/app.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { LifecycleEngine, type LifecycleRunReport } from '../lifecycle/engine.js';
import { registryIdOf } from '../registry/context.js';

export const LIFECYCLE_USAGE = `  lifecycle run [--repository NAME] [--account-id ID] [--dry-run] [--json] [--config FILE] [--data-dir DIR]
                  evaluate lifecycle policies now (every repository with one, or NAME)
`;

export async function lifecycle(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'run') throw new ConfigError(`usage:\n${LIFECYCLE_USAGE}`);
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string' },
      'data-dir': { type: 'string' },
      repository: { type: 'string' },
      'account-id': { type: 'string' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  const config = loadConfig({ ...(values.config !== undefined && { file: values.config }), flags: { dataDir: values['data-dir'], logLevel: 'warn' } });
  const accountId = values['account-id'] ?? config.defaultAccountId;
  if (!/^\d{12}$/.test(accountId)) throw new ConfigError('--account-id must be 12 digits');
  const registryId = registryIdOf(accountId, config.region);
  const registry = await openRegistry(config);
  try {
    const engine = new LifecycleEngine(registry);
    const dryRun = values['dry-run'] ?? false;
    const reports =
      values.repository !== undefined
        ? [await engine.run({ registryId, name: values.repository }, { dryRun })]
        : await engine.runAll({ dryRun, registryId });
    process.stdout.write(values.json ? JSON.stringify(reports, null, 2) + '\n' : summary(reports));
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
    lines.push(`${r.repository}: ${r.evaluated} images evaluated, ${verb} ${r.expired.length}` + (r.referrersExpired ? ` (+${r.referrersExpired} referrers)` : '') + (r.transitionsSkipped ? `, ${r.transitionsSkipped} transitions not applied (no archive class)` : ''));
    for (const a of r.expired) lines.push(`  ${a.digest}  rule ${a.rulePriority}  pushed ${a.pushedAt.toISOString()}  ${a.tags.join(',') || '<untagged>'}`);
    for (const f of r.failures) lines.push(`  failed ${f.digest}: ${f.reason}`);
  }
  return lines.join('\n') + '\n';
}
