#!/usr/bin/env node
/**
 * The `berth` executable. It checks the runtime before anything else is loaded: Berth's modules use
 * what Node.js 22.15 added (zlib's zstd), and on an older Node they would fail to link with an
 * error that names a missing export, not the cause. So this file imports only node: built-ins and
 * parses on any Node. On an old Node it runs the same command under the Node.js that `npm ci`
 * installed beside Berth (node_modules/.bin/node, from the node-linux-* packages), or says which
 * Node it needs.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const NEEDS: readonly [number, number] = [22, 15];
/** Set in the re-run command, so that a bundled runtime that is itself too old cannot loop. */
const REEXEC_MARK = 'BERTH_REEXECUTED_FROM';

function supported(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > NEEDS[0] || (major === NEEDS[0] && minor >= NEEDS[1]);
}

/** dist/src/cli/main.js → the package root, where npm ci put node_modules. */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const bundled = join(root, 'node_modules', '.bin', 'node');

if (supported(process.versions.node)) {
  // Loaded here, not imported above: this file alone must still parse and run on an old Node.
  const { tuneV8Heap } = await import('./v8-heap.js');
  tuneV8Heap([...process.execArgv, process.env.NODE_OPTIONS ?? '']);
  await import('./berth.js');
} else if (existsSync(bundled) && process.env[REEXEC_MARK] === undefined) {
  const child = spawn(bundled, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, [REEXEC_MARK]: process.version },
  });
  // A supervisor's SIGTERM and a certificate reload's SIGHUP are sent to this process: pass them
  // on. Ctrl-C already reaches the child (same process group); forwarding it would deliver it
  // twice, and a second SIGINT ends Berth without its graceful stop, so here it is only ignored.
  for (const sig of ['SIGTERM', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
  process.on('SIGINT', () => undefined);
  child.on('error', (err) => {
    process.stderr.write(`berth: cannot run ${bundled}: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal !== null) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
    process.exit(code ?? 1);
  });
} else {
  const tried = process.env[REEXEC_MARK] === undefined ? '' : ` (re-run from Node.js ${process.env[REEXEC_MARK]})`;
  process.stderr.write(
    `berth: Node.js ${process.version}${tried} is too old: Berth needs Node.js ${NEEDS.join('.')} or later (24 LTS recommended).\n` +
      `Run \`npm ci\` in ${root} (it installs Node.js 24 beside Berth on Linux x64 and arm64),\n` +
      'or install a newer Node.js and run berth with it.\n',
  );
  process.exit(1);
}
