// Builds the web console (console/, React + TypeScript) into dist/console/: one minified bundle and
// its stylesheet under assets/ with content-hashed names (the server caches those forever), and an
// index.html that only links them (the server's Content-Security-Policy forbids inline code).
// Run by `npm run build:console` and by `prepare` (so `npm ci` builds it). `--check` also
// type-checks console/ with its own tsconfig first.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'console');
const out = join(root, 'dist', 'console');
// Built beside the live directory, then swapped in: a server never lists a half-written build.
const staging = `${out}.building-${process.pid}`;

if (process.argv.includes('--check')) {
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(src, 'tsconfig.json')], { stdio: 'inherit' });
}

rmSync(staging, { recursive: true, force: true });
const result = await build({
  entryPoints: [join(src, 'src', 'main.tsx')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome111', 'firefox113', 'safari16.4'],
  jsx: 'automatic',
  define: { 'process.env.NODE_ENV': '"production"' },
  outdir: join(staging, 'assets'),
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
});

let script;
let style;
for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  if (meta.entryPoint && file.endsWith('.js')) script = basename(file);
  else if (file.endsWith('.css')) style = basename(file);
}
if (!script) throw new Error('build-console: esbuild produced no script');

const html = readFileSync(join(src, 'index.html'), 'utf8').replace(
  /\s*<!--[\s\S]*?-->\s*(?=<\/head>)/,
  '\n' +
    (style ? `    <link rel="stylesheet" href="/console/assets/${style}" />\n` : '') +
    `    <script type="module" src="/console/assets/${script}"></script>\n  `,
);
if (!html.includes(script)) throw new Error('build-console: console/index.html lost the placeholder comment before </head>');
writeFileSync(join(staging, 'index.html'), html);

mkdirSync(dirname(out), { recursive: true });
const old = `${out}.old-${process.pid}`;
try {
  renameSync(out, old);
} catch (err) {
  if (err.code !== 'ENOENT') throw err;
}
renameSync(staging, out);
rmSync(old, { recursive: true, force: true });
console.log(`build-console: dist/console/index.html, assets/${script}${style ? `, assets/${style}` : ''}`);
