/**
 * `berth vulndb import PATH [--source NAME]` loads OSV advisories (a directory of JSON files or
 * an OSV zip) into the data directory's metadata; `berth vulndb status` lists the sources.
 * Safe beside a running server: it picks the new advisories up within seconds and re-evaluates
 * images under CONTINUOUS_SCAN through the job queue.
 */
import { parseArgs } from 'node:util';
import { openRegistry } from '../app/app.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { importAdvisories } from '../scan/vulndb.js';

export const VULNDB_USAGE = `  vulndb import PATH [--source NAME] [--json]   load OSV advisories (a directory of JSON files or an OSV zip)
  vulndb status [--json]                        advisory sources, counts and when they were updated
`;

export async function vulndb(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    options: { config: { type: 'string' }, 'data-dir': { type: 'string' }, source: { type: 'string' }, json: { type: 'boolean' } },
    allowPositionals: true,
    strict: true,
  });
  if (sub !== 'import' && sub !== 'status') throw new ConfigError(`usage:\n${VULNDB_USAGE}`);
  const config = loadConfig({ ...(values.config !== undefined && { file: values.config }), flags: { dataDir: values['data-dir'], logLevel: 'warn' } });
  const registry = await openRegistry(config);
  const print = (v: unknown, text: string) => process.stdout.write(values.json ? JSON.stringify(v, null, 2) + '\n' : text);
  try {
    if (sub === 'import') {
      const path = positionals[0];
      if (path === undefined) throw new ConfigError('vulndb import needs a PATH');
      const r = await importAdvisories(registry.ctx.meta, registry.ctx.clock, path, values.source);
      print(r, `${r.source}: ${r.read} records read, ${r.changed} new or updated, ${r.invalid.length} invalid\n` + r.invalid.map((i) => `  invalid ${i.file}: ${i.error}\n`).join(''));
      return 0;
    }
    const sources = await registry.ctx.meta.scans.sources();
    const rows = sources.map((s) => `${s.name}\t${s.advisories} advisories\timported ${s.importedAt.toISOString()}\tvulnerabilitySourceUpdatedAt ${s.updatedAt.toISOString()}\n`);
    print(sources, rows.length > 0 ? rows.join('') : 'no advisories imported\n');
    return 0;
  } finally {
    await registry.close();
  }
}
