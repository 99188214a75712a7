// Builds the native AES-256-GCM opener (native/gcm-open.cc) into dist/native/gcm-open.node, with
// the machine's C++ compiler against the headers the Node runtime package ships (include/node:
// Node-API and OpenSSL's), so nothing is downloaded. Run by `npm run build`, by `prepare` (so
// `npm ci` builds it), by scripts/test.sh and bench/run.sh. Optional by design: with no compiler,
// no headers or an error, it says so and exits 0, and Berth deciphers with Node's crypto instead
// (src/blobstore/encrypted/native-gcm.ts; the server logs which at start).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'native', 'gcm-open.cc');
const out = join(root, 'dist', 'native', 'gcm-open.node');
const self = fileURLToPath(import.meta.url);

function skip(why) {
  console.error(`build-native: ${why}; downloads will decipher with Node's crypto (slower, same bytes)`);
  process.exit(0);
}

if (process.platform === 'win32') skip('not built on Windows');
// The runtime this script runs on is the one Berth runs on (npm and scripts/test.sh put
// node_modules/.bin first); its package ships the headers one level above bin/.
const headers = join(dirname(realpathSync(process.execPath)), '..', 'include', 'node');
if (!existsSync(join(headers, 'node_api.h')) || !existsSync(join(headers, 'openssl', 'evp.h'))) {
  skip(`no Node-API and OpenSSL headers under ${headers}`);
}

const mtime = (p) => statSync(p).mtimeMs;
if (existsSync(out) && mtime(out) > mtime(source) && mtime(out) > mtime(self) && mtime(out) > mtime(process.execPath)) process.exit(0);

const cxx = process.env.CXX || 'g++';
// Built beside the output, then renamed over it: a running server never loads a half-written file.
const staging = `${out}.building-${process.pid}`;
mkdirSync(dirname(out), { recursive: true });
const args = [
  '-O2',
  '-std=c++17',
  '-shared',
  '-fPIC',
  '-fno-exceptions',
  '-fno-rtti',
  '-fvisibility=hidden',
  '-Wall',
  '-Wextra',
  '-DNAPI_VERSION=8',
  `-I${headers}`,
  source,
  '-o',
  staging,
  // Node-API and OpenSSL come from the running node binary, which exports both.
  ...(process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : ['-Wl,--as-needed']),
];
const built = spawnSync(cxx, args, { stdio: ['ignore', 'inherit', 'inherit'] });
if (built.error || built.status !== 0) {
  rmSync(staging, { force: true });
  skip(`${cxx} ${built.error ? `could not run (${built.error.message})` : `failed (exit ${built.status})`}`);
}
renameSync(staging, out);
