// Builds Berth's optional native addons into dist/native/, with the machine's C++ compiler against
// the headers the Node runtime package ships (include/node: Node-API and OpenSSL's), so nothing is
// downloaded. Run by `npm run build`, by `prepare` (so `npm ci` builds them), by scripts/test.sh
// and bench/run.sh. Optional by design: with no compiler, no headers or an error, it says so for
// that addon and exits 0, and Berth does without it:
// - native/gcm-open.cc: the AES-256-GCM opener; without it downloads decipher with Node's crypto
//   (src/blobstore/encrypted/native-gcm.ts; the server logs which at start);
// - native/gcm-seal.cc: the AES-256-GCM sealer of uploads; without it the byte threads seal with
//   Node's crypto (src/blobstore/encrypted/native-seal.ts);
// - native/sock-send.cc: a byte thread's writes to a download's socket; without it every download
//   goes through the main thread (src/blobstore/encrypted/sock-send.ts);
// - native/send-pipe.cc: the send pipe, a thread that writes a download's pieces while its byte
//   thread opens the next; without it byte threads write in turn with opening, as with `sendPipe`
//   off (src/blobstore/encrypted/send-pipe-addon.ts);
// - native/file-map.cc: mappings of a blob file's ranges that downloads decipher from; without it
//   they pread the file into a buffer first (src/blobstore/encrypted/mapped-file.ts);
// - native/malloc-trim.cc: glibc's malloc_trim; without it free malloc memory stays resident after
//   a crowd of uploads (src/core/malloc-trim.ts);
// - native/tcp-acked.cc: the bytes a TCP peer acknowledged; without it the response rule sees a
//   TLS client's progress in whole writes only (src/http/tcp-acked.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const self = fileURLToPath(import.meta.url);
const addons = [
  { name: 'gcm-open', openssl: true, without: "downloads will decipher with Node's crypto (slower, same bytes)" },
  { name: 'gcm-seal', openssl: true, without: "uploads will seal with Node's crypto (more CPU, same bytes)" },
  { name: 'sock-send', openssl: false, without: 'downloads will be written to their sockets by the main thread' },
  { name: 'send-pipe', openssl: false, without: 'byte threads will write their downloads in turn with opening them (no send pipe)' },
  { name: 'file-map', openssl: false, without: 'downloads will read blob files into a buffer before deciphering' },
  { name: 'malloc-trim', openssl: false, without: 'free malloc memory is not handed back after a crowd of uploads' },
  { name: 'tcp-acked', openssl: false, without: "a TLS client's progress is seen in whole writes (a coarser grain for the response rule)" },
];

// The runtime this script runs on is the one Berth runs on (npm and scripts/test.sh put
// node_modules/.bin first); its package ships the headers one level above bin/.
const headers = join(dirname(realpathSync(process.execPath)), '..', 'include', 'node');
const mtime = (p) => statSync(p).mtimeMs;
// Headers shared by addons (native/*.h): a change to one rebuilds them all.
const headerFiles = readdirSync(join(root, 'native'))
  .filter((f) => f.endsWith('.h'))
  .map((f) => join(root, 'native', f));
const cxx = process.env.CXX || 'g++';

/** Builds one addon; says why not (and goes on) when it cannot. */
function build({ name, openssl, without }) {
  const skip = (why) => console.error(`build-native: ${name}: ${why}; ${without}`);
  if (process.platform === 'win32') return skip('not built on Windows');
  if (!existsSync(join(headers, 'node_api.h')) || (openssl && !existsSync(join(headers, 'openssl', 'evp.h')))) {
    return skip(`no Node-API${openssl ? ' and OpenSSL' : ''} headers under ${headers}`);
  }
  const source = join(root, 'native', `${name}.cc`);
  const out = join(root, 'dist', 'native', `${name}.node`);
  const inputs = [source, self, process.execPath, ...headerFiles];
  if (existsSync(out) && inputs.every((p) => mtime(out) > mtime(p))) return;
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
    return skip(`${cxx} ${built.error ? `could not run (${built.error.message})` : `failed (exit ${built.status})`}`);
  }
  renameSync(staging, out);
}

for (const a of addons) build(a);
