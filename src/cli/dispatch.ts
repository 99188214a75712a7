/**
 * Runs one argv against the command table: finds the command by its words, parses its options
 * strictly (util.parseArgs), answers --help, loads the configuration, checks the data directory,
 * then runs it. Help and usage text are generated from the table.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Command, CommandInput, Options } from './command.js';
import { configFlags } from './config-flags.js';
import { requireDataDir } from './data-dir.js';

export interface Program {
  name: string;
  version: string;
  description: string;
  commands: Command[];
}

export async function dispatch(program: Program, argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--version' || first === '-V') {
    process.stdout.write(`${program.name} ${program.version} (Node.js ${process.version})\n`);
    return 0;
  }
  if (first === '--help' || first === '-h') {
    process.stdout.write(overview(program));
    return 0;
  }
  if (first === undefined) {
    process.stderr.write(overview(program));
    return 2;
  }
  if (first === 'help') return help(program, rest);

  const found = find(program.commands, argv);
  if (found === undefined) {
    const group = groupOf(program.commands, argv);
    if (group !== undefined) {
      const asked = argv[group.words.length];
      const wantsHelp = asked === '--help' || asked === '-h';
      if (!wantsHelp) process.stderr.write(asked === undefined ? '' : `${program.name}: unknown command ${[...group.words, asked].join(' ')}\n`);
      (wantsHelp ? process.stdout : process.stderr).write(groupHelp(program, group.words, group.commands));
      return wantsHelp ? 0 : 2;
    }
    process.stderr.write(`${program.name}: unknown command ${first}\nRun '${program.name} help' for the list of commands.\n`);
    return 2;
  }
  const { command } = found;
  const args = argv.slice(command.words.length);
  let parsed: { values: Record<string, string | string[] | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args, options: parseOptions(command.options), strict: true, allowPositionals: command.args !== undefined });
  } catch (e) {
    if (!isParseError(e)) throw e;
    return usageError(program, command, (e as Error).message);
  }
  if (parsed.values.help) {
    process.stdout.write(commandHelp(program, command));
    return 0;
  }
  if (parsed.positionals.length < (command.minArgs ?? 0)) return usageError(program, command, `${command.words.join(' ')} needs ${command.args}`);

  const flags = { ...command.flagDefaults, ...configFlags(parsed.values) };
  const file = typeof parsed.values.config === 'string' ? parsed.values.config : undefined;
  // Loaded on first use: a command that needs no configuration (demo-image) is not failed by a bad BERTH_* variable.
  let config: Config | undefined;
  const input: CommandInput = {
    values: parsed.values,
    positionals: parsed.positionals,
    get config() {
      return (config ??= loadConfig({ ...(file !== undefined && { file }), flags }));
    },
  };
  if (command.dataDir === 'metadata' || command.dataDir === 'registry') requireDataDir(input.config, command.dataDir);
  return command.run(input);
}

function isParseError(e: unknown): boolean {
  return e instanceof Error && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS');
}

function usageError(program: Program, command: Command, message: string): number {
  process.stderr.write(
    `${program.name}: ${message}\nusage: ${usageLine(program, command)}\nRun '${program.name} ${command.words.join(' ')} --help' for its options.\n`,
  );
  return 2;
}

function parseOptions(options: Options): ParseArgsConfig['options'] {
  const out: NonNullable<ParseArgsConfig['options']> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, o] of Object.entries(options))
    out[name] = { type: o.type, ...(o.short !== undefined && { short: o.short }), ...(o.multiple === true && { multiple: true }) };
  return out;
}

/** The command whose words are the longest prefix of argv. */
function find(commands: Command[], argv: string[]): { command: Command } | undefined {
  let best: Command | undefined;
  for (const c of commands) {
    if (c.words.every((w, i) => argv[i] === w) && (best === undefined || c.words.length > best.words.length)) best = c;
  }
  return best && { command: best };
}

/** Commands that share argv's leading words (`admin` → every `admin ...`), when argv names none of them. */
function groupOf(commands: Command[], argv: string[]): { words: string[]; commands: Command[] } | undefined {
  const head = argv[0];
  const members = commands.filter((c) => c.words.length > 1 && c.words[0] === head);
  return members.length > 0 && head !== undefined ? { words: [head], commands: members } : undefined;
}

function help(program: Program, words: string[]): number {
  if (words.length === 0) {
    process.stdout.write(overview(program));
    return 0;
  }
  const exact = program.commands.find((c) => c.words.join(' ') === words.join(' '));
  if (exact) {
    process.stdout.write(commandHelp(program, exact));
    return 0;
  }
  const group = groupOf(program.commands, words);
  if (group && words.length === 1) {
    process.stdout.write(groupHelp(program, group.words, group.commands));
    return 0;
  }
  process.stderr.write(`${program.name}: no command ${words.join(' ')}\nRun '${program.name} help' for the list of commands.\n`);
  return 2;
}

function usageLine(program: Program, c: Command): string {
  return [program.name, ...c.words, Object.keys(c.options).length > 0 ? '[options]' : '', c.args ?? ''].filter(Boolean).join(' ');
}

function columns(rows: Array<[string, string]>): string {
  const width = Math.min(32, Math.max(...rows.map(([l]) => l.length)) + 2);
  return rows.map(([l, r]) => (l.length + 2 > width ? `  ${l}\n  ${' '.repeat(width)}${r}` : `  ${l.padEnd(width)}${r}`)).join('\n') + '\n';
}

export function overview(program: Program): string {
  const rows = program.commands.map((c): [string, string] => [[...c.words, c.args ?? ''].join(' ').trim(), c.summary]);
  rows.push(['help [COMMAND]', "this list, or a command's help"]);
  return (
    `${program.name} ${program.version}: ${program.description}\n\n` +
    `usage: ${program.name} <command> [options]\n\ncommands:\n` +
    columns(rows) +
    `\n'${program.name} <command> --help' (or '${program.name} help <command>') shows a command's options and an example.\n` +
    `'${program.name} --version' prints the version.\n`
  );
}

function groupHelp(program: Program, words: string[], commands: Command[]): string {
  const rows = commands.map((c): [string, string] => [[...c.words, c.args ?? ''].join(' ').trim(), c.summary]);
  return `usage: ${program.name} ${words.join(' ')} <command> [options]\n\ncommands:\n${columns(rows)}\n'${program.name} ${words.join(' ')} <command> --help' shows its options.\n`;
}

export function commandHelp(program: Program, c: Command): string {
  const rows = Object.entries(c.options).map(([name, o]): [string, string] => [
    `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`,
    o.help,
  ]);
  rows.push(['-h, --help', 'show this help']);
  return (
    `usage: ${usageLine(program, c)}\n\n${c.summary}\n` +
    (c.details ? `\n${c.details.trimEnd()}\n` : '') +
    `\noptions:\n${columns(rows)}\nexample:\n  ${c.example.split('\n').join('\n  ')}\n`
  );
}
