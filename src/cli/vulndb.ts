/**
 * `berth vulndb import PATH [--source NAME]` loads OSV advisories (a directory of JSON files or
 * an OSV zip) into the data directory's metadata; `berth vulndb status` lists the sources.
 * Safe beside a running server: it picks the new advisories up within seconds and re-evaluates
 * images under CONTINUOUS_SCAN through the job queue.
 */
import type { openRegistry } from '../app/app.js';
import type { Config } from '../config/schema.js';
import { jsonOption, storeOptions, type Command } from './command.js';

export const vulndbCommands: Command[] = [
  {
    words: ['vulndb', 'import'],
    summary: 'load OSV advisories (a directory of JSON files or an OSV zip)',
    args: 'PATH',
    minArgs: 1,
    options: { source: { type: 'string', value: 'NAME', help: 'the source name (default: from the records)' }, ...jsonOption, ...storeOptions },
    example: 'berth vulndb import ./osv-debian.zip --source debian',
    dataDir: 'registry',
    // The report is on stdout; the log would be mixed into it.
    flagDefaults: { logLevel: 'warn' },
    async run({ values, positionals, config }) {
      return withRegistry(config, async (registry) => {
        const { importAdvisories } = await import('../scan/vulndb.js');
        const r = await importAdvisories(registry.ctx.meta, registry.ctx.clock, positionals[0]!, values.source as string | undefined);
        const text =
          `${r.source}: ${r.read} records read, ${r.changed} new or updated, ${r.invalid.length} invalid\n` +
          r.invalid.map((i) => `  invalid ${i.file}: ${i.error}\n`).join('');
        process.stdout.write(values.json ? JSON.stringify(r, null, 2) + '\n' : text);
      });
    },
  },
  {
    words: ['vulndb', 'status'],
    summary: 'advisory sources, counts and when they were updated',
    options: { ...jsonOption, ...storeOptions },
    example: 'berth vulndb status --json',
    dataDir: 'registry',
    flagDefaults: { logLevel: 'warn' },
    async run({ values, config }) {
      return withRegistry(config, async (registry) => {
        const sources = await registry.ctx.meta.scans.sources();
        const rows = sources.map(
          (s) => `${s.name}\t${s.advisories} advisories\timported ${s.importedAt.toISOString()}\tvulnerabilitySourceUpdatedAt ${s.updatedAt.toISOString()}\n`,
        );
        process.stdout.write(values.json ? JSON.stringify(sources, null, 2) + '\n' : rows.length > 0 ? rows.join('') : 'no advisories imported\n');
      });
    },
  },
];

async function withRegistry(config: Config, body: (registry: Awaited<ReturnType<typeof openRegistry>>) => Promise<void>): Promise<number> {
  const registry = await (await import('../app/app.js')).openRegistry(config);
  try {
    await body(registry);
    return 0;
  } finally {
    await registry.close();
  }
}
