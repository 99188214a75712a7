/**
 * The berth command behaves like one: --version, help and --help on every command (exit 0);
 * unknown commands and options get a short usage on stderr and exit 2; commands that work on an
 * existing registry refuse a data directory that does not exist (exit 1) and create nothing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { configKeys, envNameOf } from '../../src/config/schema.js';
import { cliPath, repoRoot, startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { waitFor } from './helpers/wait-for.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function berth(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  // BERTH_* from the caller's environment must not change what is tested.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_')));
  return new Promise((res) => {
    execFile(process.execPath, [cliPath, ...args], { cwd: opts.cwd, env: { ...env, ...opts.env } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      res({ code, stdout, stderr });
    });
  });
}

/** The command names `berth help` lists, e.g. ['serve'], ['admin', 'create-user']. */
function listedCommands(help: string): string[][] {
  const section = help.slice(help.indexOf('commands:\n') + 'commands:\n'.length);
  return section
    .split('\n\n')[0]!
    .split('\n')
    .map((l) =>
      l
        .trim()
        .split(/\s{2,}/)[0]!
        .split(' ')
        .filter((w) => /^[a-z][a-z-]*$/.test(w)),
    )
    .filter((words) => words.length > 0 && words[0] !== 'help');
}

/** Runs `fn` on every item, at most `limit` at a time; rejects with the first failure. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

const DATA_COMMANDS = [
  ['admin', 'list-users'],
  ['admin', 'create-account'],
  ['admin', 'list-kms-keys'],
  ['gc'],
  ['usage'],
  ['lifecycle', 'run'],
  ['vulndb', 'status'],
];

describe('berth CLI', () => {
  it("--version prints package.json's version and the Node.js it runs on", async () => {
    const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    const r = await berth(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `berth ${version} (Node.js ${process.version})\n`);
  });

  it('help, --help and -h list every command, exit 0', async () => {
    const outs = await Promise.all([berth(['help']), berth(['--help']), berth(['-h'])]);
    for (const r of outs) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, outs[0]!.stdout);
    }
    const listed = listedCommands(outs[0]!.stdout).map((w) => w.join(' '));
    for (const name of ['serve', 'verify-config', 'demo-image', 'admin create-user', 'gc', 'usage', 'lifecycle run', 'vulndb import'])
      assert.ok(listed.includes(name), `${name} in ${listed.join(', ')}`);
  });

  it('--help on every command and subcommand: usage, options, an example; exit 0', async () => {
    const commands = listedCommands((await berth(['help'])).stdout);
    assert.ok(commands.length >= 15, 'every command is listed');
    // Three processes per command, each ~0.7 s of CPU for loading Berth's modules: run a few at a
    // time, since one after another they were most of this file's time. `help <cmd>` is compared
    // with the `--help` output of the same round, not with a fourth process.
    await eachLimited(commands, 2, async (words) => {
      const [long, short, viaHelp] = await Promise.all([berth([...words, '--help']), berth([...words, '-h']), berth(['help', ...words])]);
      for (const [flag, r] of [
        ['--help', long],
        ['-h', short],
      ] as const) {
        assert.equal(r.code, 0, `${words.join(' ')} ${flag}: ${r.stderr}`);
        assert.ok(r.stdout.startsWith(`usage: berth ${words.join(' ')}`), r.stdout);
        assert.match(r.stdout, /\noptions:\n(.|\n)*--help/);
        assert.match(r.stdout, new RegExp(`\\nexample:\\n  berth ${words.join(' ')}\\b`));
      }
      assert.equal(viaHelp.stdout, long.stdout);
    });
    await eachLimited(['admin', 'lifecycle', 'vulndb'], 3, async (group) => {
      const r = await berth([group, '--help']);
      assert.equal(r.code, 0);
      assert.match(r.stdout, new RegExp(`usage: berth ${group} <command>`));
    });
  });

  it("serve --help shows every configuration key's flag and environment variable, with defaults", async () => {
    const r = await berth(['serve', '--help']);
    assert.equal(r.code, 0);
    for (const key of configKeys) {
      const flag = '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
      assert.ok(r.stdout.includes(flag + ' '), `${flag} in serve --help`);
      assert.ok(r.stdout.includes(envNameOf(key)), `${envNameOf(key)} in serve --help`);
    }
    assert.match(r.stdout, /--port N +BERTH_PORT, default 5000/);
    // And those flags work: verify-config takes the same ones.
    const v = await berth(['verify-config', '--gc-grace-seconds', '42', '--create-on-push', 'false']);
    assert.equal(v.code, 0, v.stderr);
    const config = JSON.parse(v.stdout) as { gcGraceSeconds: number; createOnPush: boolean };
    assert.equal(config.gcGraceSeconds, 42);
    assert.equal(config.createOnPush, false);
  });

  it('help, usage errors and a missing data directory load the command table, not the registry', async () => {
    // A hook in the berth process prints each of Berth's own modules it loads; the registry's
    // entry (app.js) must not be among them until a command runs.
    const hook = `data:text/javascript,${encodeURIComponent(
      "import { registerHooks } from 'node:module';" +
        'registerHooks({ load(url, ctx, next) { if (url.includes("/dist/src/")) process.stderr.write("loaded " + url + "\\n"); return next(url, ctx); } });',
    )}`;
    const cwd = await tempDir('berth-cli-cwd-');
    // The four side by side (none reads or writes anything), each checked.
    const argsList = [['--help'], ['admin', 'create-user', '--help'], ['gc', '--bogus'], ['usage']];
    const runs = await Promise.all(argsList.map((args) => berth(args, { cwd, env: { NODE_OPTIONS: `--import ${hook}` } })));
    for (const [i, args] of argsList.entries()) {
      const r = runs[i]!;
      const loaded = r.stderr.split('\n').filter((l) => l.startsWith('loaded '));
      assert.ok(
        loaded.some((l) => l.endsWith('/dist/src/cli/berth.js')),
        `the hook saw berth ${args.join(' ')} start: ${r.stderr}`,
      );
      assert.ok(!loaded.some((l) => l.endsWith('/dist/src/app/app.js')), `berth ${args.join(' ')} loaded the registry`);
    }
    // The hook does see the registry load when a command runs on one.
    const dataDir = await tempDir('berth-cli-data-');
    const gc = await berth(['gc', '--dry-run', '--data-dir', dataDir], { cwd, env: { NODE_OPTIONS: `--import ${hook}` } });
    assert.ok(gc.stderr.split('\n').includes(`loaded file://${repoRoot}/dist/src/app/app.js`), gc.stderr);
  });

  it('unknown commands and options: a short usage on stderr, exit 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['frobnicate'], /unknown command frobnicate/],
      [['admin', 'frobnicate'], /unknown command admin frobnicate/],
      [['admin'], /usage: berth admin <command>/],
      [[], /usage: berth <command>/],
      [['serve', '--bogus'], /Unknown option '--bogus'(.|\n)*usage: berth serve/],
      [['gc', '--bogus'], /Unknown option '--bogus'(.|\n)*usage: berth gc/],
      [['admin', 'create-user', '--name', 'x'], /Unknown option '--name'(.|\n)*usage: berth admin create-user/],
      [['lifecycle', 'run', 'extra'], /Unexpected argument 'extra'|unexpected/i],
      [['serve', '--port'], /--port/],
    ];
    // Three at a time: each is a `berth` process of its own that reads and writes nothing.
    await eachLimited(cases, 3, async ([args, stderr]) => {
      const r = await berth(args);
      assert.equal(r.code, 2, `berth ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, stderr);
      assert.equal(r.stdout, '', `berth ${args.join(' ')} prints nothing on stdout`);
    });
  });

  it('commands on a registry refuse a data directory that does not exist, name it, and create nothing', async () => {
    // Two commands at a time, each from a folder of its own (so that what one created is seen as
    // its own), its three runs side by side: 21 starts of a short-lived process, most of each spent
    // waiting for a core on a busy machine.
    await eachLimited(DATA_COMMANDS, 2, async (words) => {
      const cwd = await tempDir('berth-cli-cwd-');
      const missing = join(cwd, 'no', 'such');
      const [r, ...typos] = await Promise.all([
        // From the wrong folder, with the default ./data.
        berth(words, { cwd }),
        // A mistyped --data-dir, and the same through the environment.
        berth([...words, '--data-dir', missing], { cwd }),
        berth(words, { cwd, env: { BERTH_DATA_DIR: missing } }),
      ]);
      assert.equal(r!.code, 1, `${words.join(' ')}: ${r!.stderr}`);
      assert.match(r!.stderr, new RegExp(`data directory ${join(cwd, 'data')} does not exist`));
      assert.match(r!.stderr, /--data-dir DIR or BERTH_DATA_DIR/);
      for (const r2 of typos) {
        assert.equal(r2.code, 1, r2.stderr);
        assert.ok(r2.stderr.includes(missing), r2.stderr);
      }
      assert.deepEqual(readdirSync(cwd), [], `${words.join(' ')} created nothing`);
    });
  });

  it("with PostgreSQL and no serverKey, the data directory must hold server.key (a new one would not be the servers')", async () => {
    const dataDir = await tempDir('berth-cli-pg-');
    // Nothing listens on port 1: the check comes before any connection.
    const env = { BERTH_DATABASE_URL: 'postgres://berth@127.0.0.1:1/berth' };
    const r = await berth(['admin', 'list-users', '--data-dir', dataDir], { env });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /server\.key does not exist/);
    assert.match(r.stderr, /BERTH_SERVER_KEY/);
    assert.deepEqual(readdirSync(dataDir), []);
  });

  it('serve, help, verify-config and demo-image run without a data directory', async () => {
    const cwd = await tempDir('berth-cli-cwd-');
    assert.equal((await berth(['verify-config'], { cwd })).code, 0);
    assert.equal((await berth(['help', 'gc'], { cwd })).code, 0);
    // demo-image reads no configuration, so a bad setting elsewhere does not stop it.
    assert.equal((await berth(['demo-image', 'img'], { cwd, env: { BERTH_PORT: 'eighty' } })).code, 0);
    assert.deepEqual(readdirSync(cwd), ['img']);
  });

  describe('serve', () => {
    let server: BerthProcess | undefined;
    after(async () => server?.cleanup());

    it('creates its data directory and logs one ready line with the URL and the credentials file', async () => {
      const parent = await tempDir('berth-cli-serve-');
      const dataDir = join(parent, 'fresh');
      server = await startBerth({ dataDir, env: { BERTH_LOG_LEVEL: 'info' } });
      const line = await waitFor('the ready line', () =>
        server!
          .output()
          .split('\n')
          .find((l) => l.includes('ready on')),
      );
      const ready = JSON.parse(line) as { msg: string; url: string; credentials: string };
      assert.equal(ready.msg, `ready on ${server.url}`);
      assert.equal(ready.url, server.url);
      assert.equal(ready.credentials, join(dataDir, 'admin-credentials'));
      assert.match(readFileSync(ready.credentials, 'utf8'), /aws_access_key_id/);
      assert.equal(
        server
          .output()
          .split('\n')
          .filter((l) => l.includes('ready on')).length,
        1,
      );
    });
  });
});
